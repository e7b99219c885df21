"""The resolver's conflict rules: merge on one match, review on several or on a weak unmatched mention,
discovery on a confident one, people's decisions first."""

from __future__ import annotations

import pandas as pd
import pytest

from mlds_assets.core.entities import Entity, EntityDictionary
from mlds_assets.core.resolution import Decision, Matcher, conflict_id, normalise_name, resolve

TABLE = EntityDictionary.from_entities(
    [
        Entity("nike", "Nike", aliases=("Nike",), handles=("nike",), hashtags=("nike", "justdoit")),
        Entity("apple", "Apple", aliases=("Apple", "Apple Inc"), handles=("apple",)),
        Entity("apple_music", "Apple Music", aliases=("Apple Music",)),
        Entity("delta", "Delta", type="ORG", aliases=("Delta Air Lines",), handles=("delta",)),
        Entity("delta_faucet", "Delta Faucet", aliases=("Delta",)),  # "Delta" is ambiguous on purpose
    ]
)


def enhanced(*rows: tuple) -> pd.DataFrame:
    """(post_id, platform, surface, label, confidence[, entity_id])"""
    records = [
        {"post_id": r[0], "platform": r[1], "surface": r[2], "label": r[3], "confidence": r[4],
         "entity_id": r[5] if len(r) > 5 else None, "method": "ner", "model_version": "spacy:sm-3.8.0"}
        for r in rows
    ]  # fmt: skip
    return pd.DataFrame(records)


CONSERVATIVE = pd.DataFrame(
    {
        "post_id": ["p1", "p2"],
        "platform": ["facebook", "tiktok"],
        "entity_id": ["nike", "apple"],
        "surface": ["#nike", "@apple"],
        "method": ["hashtag", "handle"],
        "confidence": [0.9, 0.95],
        "entity_type": ["ORG", "ORG"],
    }
)


NO_CONSERVATIVE = CONSERVATIVE.iloc[:0]


@pytest.mark.parametrize(
    ("raw", "key"),
    [("Nike", "nike"), ("@nike", "nike"), ("#Nike", "nike"), ("Nike Inc.", "nike"), ("Apple, Inc", "apple"),
     ("Delta Air Lines", "delta air lines"), ("Co", "co")],
)  # fmt: skip
def test_normalised_names(raw, key):
    assert normalise_name(raw) == key


def test_one_match_merges_and_the_new_spelling_becomes_an_alias():
    result = resolve(CONSERVATIVE, enhanced(("p3", "instagram", "NIKE Inc", "ORG", 0.7)), TABLE)
    mention = result.mentions[result.mentions["post_id"] == "p3"].iloc[0]
    assert (mention["canonical_id"], mention["link"]) == ("nike", "exact")
    assert mention["method"] == "ner" and mention["confidence"] == 0.7  # the mention keeps its own
    nike = result.canonical.set_index("entity_id").loc["nike"]
    assert nike["primary_name"] == "Nike"  # the canonical name stays primary
    assert "NIKE Inc" in nike["aliases"]
    assert nike["platforms"] == ["facebook", "instagram"] and nike["mentions"] == 2
    assert result.review.empty


def test_fuzzy_match_above_the_threshold_merges_a_name_of_several_words():
    result = resolve(NO_CONSERVATIVE, enhanced(("p4", "facebook", "Apple Musik", "ORG", 0.6)), TABLE)
    assert result.mentions.iloc[0][["canonical_id", "link"]].tolist() == ["apple_music", "fuzzy"]
    assert "Apple Musik" in result.canonical.set_index("entity_id").loc["apple_music", "learned_aliases"]
    strict = resolve(
        NO_CONSERVATIVE, enhanced(("p4", "facebook", "Apple Musik", "ORG", 0.6)), TABLE, fuzzy_threshold=95
    )
    assert strict.mentions.iloc[0]["canonical_id"] is None  # no match and not confident: review
    assert len(strict.review) == 1


def test_a_single_word_is_never_an_alias_by_fuzzy_match_alone():
    """Issue 19 item 3: "Phone" ~ iPhone (ratio 91) is a dictionary word; it goes to review with its score."""
    table = EntityDictionary.from_entities([Entity("iphone", "iPhone", type="PRODUCT", aliases=("iPhone",))])
    result = resolve(
        NO_CONSERVATIVE, enhanced(("p1", "x", "Phone", "ORG", 0.75), ("p2", "x", "phone", "PRODUCT", 0.75)), table
    )
    assert result.mentions["canonical_id"].isna().all()
    [item] = result.review.to_dict("records")
    assert item["candidates"] == ["iphone"] and item["candidate_scores"][0] > 90
    assert item["label"] == "ORG, PRODUCT" and item["posts"] == 2  # one item for the word, whatever its labels
    assert result.canonical.set_index("entity_id").loc["iphone", "aliases"] == []


def test_several_matches_go_to_review_with_candidates_and_evidence():
    result = resolve(
        NO_CONSERVATIVE,
        enhanced(("p5", "twitter", "Delta", "ORG", 0.9), ("p6", "facebook", "delta", "ORG", 0.7)),
        TABLE,
    )
    [conflict] = result.review.to_dict("records")
    assert set(conflict["candidates"]) == {"delta", "delta_faucet"}
    assert conflict["mentions"] == 2 and conflict["examples"] == ["p5", "p6"]
    assert "matches 2 entities" in conflict["reason"]
    assert result.mentions["canonical_id"].isna().all()


def test_unmatched_mentions_are_discoveries_only_when_confident():
    result = resolve(
        NO_CONSERVATIVE,
        enhanced(("p7", "tiktok", "Patagonia", "ORG", 0.85), ("p8", "tiktok", "Zorblax", "ORG", 0.6)),
        TABLE,
    )
    linked = result.mentions.set_index("post_id")["canonical_id"]
    assert linked["p7"] == "discovered:patagonia"
    assert pd.isna(linked["p8"])
    assert result.review["surface"].tolist() == ["Zorblax"]
    discovered = result.canonical.set_index("entity_id").loc["discovered:patagonia"]
    assert discovered["origin"] == "discovered" and discovered["primary_name"] == "Patagonia"


def test_entity_ruler_matches_link_directly():
    result = resolve(NO_CONSERVATIVE, enhanced(("p9", "facebook", "Apple Music", "ORG", 0.95, "apple_music")), TABLE)
    assert result.mentions.iloc[0][["canonical_id", "link"]].tolist() == ["apple_music", "ruler"]


def test_decisions_come_first_and_a_decided_conflict_never_returns():
    mentions = enhanced(("p5", "twitter", "Delta", "ORG", 0.9))
    cid = conflict_id("Delta", "ORG")
    assert not resolve(NO_CONSERVATIVE, mentions, TABLE).review.empty

    merged = resolve(NO_CONSERVATIVE, mentions, TABLE, {cid: Decision("merge", "delta")})
    assert merged.review.empty
    assert merged.mentions.iloc[0][["canonical_id", "link"]].tolist() == ["delta", "decision"]

    new = resolve(NO_CONSERVATIVE, mentions, TABLE, {cid: Decision("new")})
    assert new.mentions.iloc[0]["canonical_id"] == "discovered:delta"

    rejected = resolve(NO_CONSERVATIVE, mentions, TABLE, {cid: Decision("reject")})
    assert rejected.review.empty and rejected.mentions.iloc[0]["link"] == "rejected"


def test_conflict_ids_are_stable_across_spellings_and_platforms():
    assert conflict_id("Delta", "ORG") == conflict_id("@delta", "ORG") == conflict_id("DELTA", "ORG")
    assert conflict_id("Delta", "ORG") != conflict_id("Delta", "GPE")


def test_every_mention_is_accounted_for():
    rows = enhanced(("a", "x", "Nike", "ORG", 0.9), ("b", "x", "Delta", "ORG", 0.9), ("c", "x", "Foo", "ORG", 0.1))
    result = resolve(CONSERVATIVE, rows, TABLE)
    assert len(result.mentions) == len(CONSERVATIVE) + len(rows)  # nothing dropped silently
    assert set(result.mentions["resolver_version"]) == {"resolver:2"}


def test_matcher_finds_handles_and_hashtags():
    matcher = Matcher(TABLE)
    assert [c.entity_id for c in matcher.candidates("#JustDoIt")] == ["nike"]
    assert matcher.candidates("") == []


def test_gold_accuracy_by_surface_form():
    from mlds_assets.core.resolution import gold_accuracy

    mentions = pd.DataFrame(
        {
            "surface": ["Nike", "@nike", "NIKE Inc", "Delta", "delta", "Delta", "Apple"],
            "canonical_id": ["nike", "nike", "nike", "delta_faucet", "delta_faucet", "delta", "apple_music"],
        }
    )
    gold = pd.DataFrame(
        {"surface": ["Nike", "Delta", "Apple", "Adidas"], "canonical_id": ["nike", "delta", "apple", "adidas"]}
    )
    found = gold_accuracy(mentions, gold)
    assert (found["gold_surfaces"], found["seen"]) == (4, 3)  # Adidas was never mentioned
    assert found["accuracy"] == pytest.approx(1 / 3)  # Nike right; Delta mostly the faucet; Apple wrong
    assert found["wrong"] == ["Delta", "Apple"]


def test_queue_groups_by_surface_filters_noise_and_ranks_by_posts_moved():
    """Issue 19 item 2: one item per normalised surface across labels; numbers, times, emoji, single
    characters and place labels are kept out; the item a decision would move most posts for comes first."""
    from mlds_assets.core.resolution import surface_id

    rows = [
        ("a", "x", "DM", "ORG", 0.75), ("b", "x", "dm", "PERSON", 0.75), ("c", "x", "DM", "ORG", 0.75),
        ("d", "x", "Zorblax", "PRODUCT", 0.75),
        ("e", "x", "10:30 pm", "ORG", 0.75), ("f", "x", "3rd", "ORG", 0.75), ("g", "x", "😡😡", "ORG", 0.75),
        ("h", "x", "X", "PERSON", 0.75), ("i", "x", "2017", "ORG", 0.75),
        ("j", "x", "Heathrow", "FAC", 0.75), ("k", "x", "London", "GPE", 0.75), ("l", "x", "Austin", "GPE", 0.75),
        ("m", "x", "Austin", "PERSON", 0.75), ("n", "x", "Americans", "NORP", 0.75),
        ("o", "x", "RT @mention", "ORG", 0.75), ("p", "x", "@mention @mention", "ORG", 0.75),
    ]  # fmt: skip
    result = resolve(NO_CONSERVATIVE, enhanced(*rows), TABLE)
    queue = result.review
    assert queue["surface"].tolist() == ["DM", "Austin", "Zorblax"]
    assert queue.iloc[0][["label", "mentions", "posts"]].tolist() == ["ORG, PERSON", 3, 3]
    assert queue.iloc[0]["conflict_id"] == surface_id("dm")
    assert queue.iloc[1]["label"] == "GPE, PERSON"  # a place label alone keeps it out; another label does not
    links = result.mentions.set_index("post_id")["link"]
    assert set(links[list("efghijknop")]) == {"filtered"}
    assert len(result.mentions) == len(rows)  # filtered mentions are still accounted for
    everything = resolve(NO_CONSERVATIVE, enhanced(*rows), TABLE, skip_labels=())
    assert {"Heathrow", "London", "Americans"} <= set(everything.review["surface"])
    frequent = resolve(NO_CONSERVATIVE, enhanced(*rows), TABLE, min_posts=2)
    assert frequent.review["surface"].tolist() == ["DM", "Austin"]
    assert frequent.mentions.set_index("post_id").loc["d", "link"] == "rare"  # seen once: unlinked, not queued


def test_candidates_with_scores_are_suggested_for_an_unmatched_surface():
    result = resolve(NO_CONSERVATIVE, enhanced(("p1", "x", "Nikey", "ORG", 0.6)), TABLE, fuzzy_threshold=95)
    [item] = result.review.to_dict("records")
    assert item["candidates"][0] == "nike" and 70 <= item["candidate_scores"][0] < 95


def test_one_surface_decision_covers_every_label_and_per_label_decisions_still_apply():
    from mlds_assets.core.resolution import surface_id

    mentions = enhanced(("a", "x", "Delta", "ORG", 0.9), ("b", "x", "delta", "PERSON", 0.9))
    merged = resolve(NO_CONSERVATIVE, mentions, TABLE, {surface_id("DELTA"): Decision("merge", "delta")})
    assert merged.review.empty and set(merged.mentions["canonical_id"]) == {"delta"}
    legacy = resolve(NO_CONSERVATIVE, mentions, TABLE, {conflict_id("Delta", "ORG"): Decision("merge", "delta")})
    by_post = legacy.mentions.set_index("post_id")
    assert by_post.loc["a", "canonical_id"] == "delta" and pd.isna(by_post.loc["b", "canonical_id"])
    assert legacy.review["label"].tolist() == ["PERSON"]


def test_learned_aliases_are_normalised_listed_and_reversible():
    """Issue 19 item 3: no trailing punctuation or numbers, handles are not aliases, and the id that taught
    an alias takes it back with a decision."""
    from mlds_assets.core.resolution import clean_alias

    assert [clean_alias(s) for s in ("Nike Inc.&", "Apple Music 2", " Nike! ")] == ["Nike Inc", "Apple Music", "Nike"]
    rows = enhanced(("a", "x", "Apple Musik!", "ORG", 0.9), ("b", "x", "@apple&", "ORG", 0.9))
    result = resolve(NO_CONSERVATIVE, rows, TABLE)
    canonical = result.canonical.set_index("entity_id")
    assert canonical.loc["apple_music", "learned_aliases"] == ["Apple Musik"]
    assert canonical.loc["apple", "learned_aliases"] == []  # "@apple&" links to apple; a handle is no alias
    [taught_by] = canonical.loc["apple_music", "learned_from"]
    reversed_ = resolve(NO_CONSERVATIVE, rows, TABLE, {taught_by: Decision("reject")})
    assert reversed_.canonical.set_index("entity_id").loc["apple_music", "aliases"] == []
    assert reversed_.mentions.set_index("post_id").loc["a", "link"] == "rejected"
