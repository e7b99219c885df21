"""Conservative entities: dictionary aliases on word boundaries, handles, hashtags, labels; thresholded."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlds_assets.core.cleaning import clean_posts
from mlds_assets.core.entities import ENTITY_COLUMNS, Entity, EntityDictionary, extract_conservative_entities
from mlds_assets.settings import DEFAULT_CONFIG_DIR, ConfidenceSettings, PlatformConfig

CONF = ConfidenceSettings()  # label 1.0, handle 0.95, hashtag 0.9, exact-case alias 0.9, other case 0.7
TABLE = EntityDictionary.from_entities(
    [
        Entity(
            "apple", "Apple", aliases=("Apple", "Apple Inc"), handles=("AppleSupport", "@apple"), hashtags=("apple",)
        ),
        Entity("adidas", "Adidas", aliases=("Adidas", "adidas"), handles=("adidas",), hashtags=("#Adidas",)),
        Entity("nyt", "The New York Times", type="MEDIA", aliases=("New York Times", "NYT")),
        Entity("nyc", "New York", type="LOC"),
    ]
)
PLATFORM = PlatformConfig(name="demo", fields={"text": "body", "created_at": "when", "author": "user"})


def cleaned(*texts: str, labels: list[dict] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(len(texts))],
            "platform": "demo",
            "batch_id": "b1",
            "text": list(texts),
            "labels": [json.dumps(x) for x in labels] if labels else ["{}"] * len(texts),
        }
    )
    return clean_posts(frame)


def extract(frame: pd.DataFrame, threshold: float = 0.8, platform: PlatformConfig = PLATFORM):
    hits, counts = extract_conservative_entities(frame, TABLE, platform, CONF, threshold)
    assert list(hits.columns) == list(ENTITY_COLUMNS)
    assert (hits["confidence"] >= threshold).all()  # nothing below the threshold is ever kept
    return hits, counts


def found(hits: pd.DataFrame) -> list[tuple]:
    return list(hits[["entity_id", "surface", "method", "confidence"]].itertuples(index=False, name=None))


def test_dictionary_lookups():
    assert TABLE.by_handle == {"applesupport": "apple", "apple": "apple", "adidas": "adidas"}
    assert TABLE.by_hashtag == {"apple": "apple", "adidas": "adidas"}
    assert TABLE.by_name["apple inc"] == "apple" and TABLE.by_name["applesupport"] == "apple"
    assert set(TABLE.entities) == {"apple", "adidas", "nyt", "nyc"}


def test_exact_case_alias_is_a_dictionary_hit_at_0_9():
    hits, counts = extract(cleaned("I love my Apple laptop"))
    assert found(hits) == [("apple", "Apple", "dictionary", 0.9)]
    row = hits.iloc[0]
    assert (row["start"], row["end"]) == (10, 15)
    assert "I love my Apple laptop"[row["start"] : row["end"]] == "Apple"
    assert (row["post_id"], row["platform"], row["batch_id"]) == ("p0", "demo", "b1")
    assert (row["entity_name"], row["entity_type"]) == ("Apple", "ORG")
    assert counts == {"below_threshold": 0, "new_label_entities": 0}


def test_other_case_alias_is_0_7_and_dropped_at_0_8():
    frame = cleaned("an apple a day", "APPLE INC results")
    hits, counts = extract(frame, threshold=0.8)
    assert hits.empty
    assert counts["below_threshold"] == 2
    kept, counts = extract(frame, threshold=0.5)
    assert found(kept) == [("apple", "apple", "dictionary", 0.7), ("apple", "APPLE INC", "dictionary", 0.7)]
    assert counts["below_threshold"] == 0


def test_alias_listed_in_two_casings_gives_one_hit():
    hits, counts = extract(cleaned("adidas and Adidas"), threshold=0.5)
    assert found(hits) == [("adidas", "adidas", "dictionary", 0.9), ("adidas", "Adidas", "dictionary", 0.9)]
    assert counts["below_threshold"] == 0


@pytest.mark.parametrize(
    "text", ["Applebee's is a restaurant", "pineApple juice", "Apple_pie", "Apple2", "#AppleEvent"]
)
def test_aliases_match_on_word_boundaries_only(text):
    hits, _ = extract(cleaned(text), threshold=0.0)
    assert hits.empty, found(hits)


def test_shorter_alias_found_when_the_longer_one_runs_into_a_word():
    hits, _ = extract(cleaned("Apple Incorporated reported"))
    assert found(hits) == [("apple", "Apple", "dictionary", 0.9)]


def test_at_handle_is_a_handle_not_an_alias():
    hits, counts = extract(cleaned("thanks @Apple and @AppleSupport"), threshold=0.0)
    assert found(hits) == [("apple", "@apple", "handle", 0.95), ("apple", "@applesupport", "handle", 0.95)]
    assert counts["below_threshold"] == 0


def test_hashtag_hit():
    hits, _ = extract(cleaned("new drop #ADIDAS #unknown"))
    assert found(hits) == [("adidas", "#adidas", "hashtag", 0.9)]


def test_leftmost_longest_alias():
    hits, _ = extract(cleaned("The New York Times said New York Times and NYT, in New York"))
    assert found(hits) == [
        ("nyt", "The New York Times", "dictionary", 0.9),
        ("nyt", "New York Times", "dictionary", 0.9),
        ("nyt", "NYT", "dictionary", 0.9),
        ("nyc", "New York", "dictionary", 0.9),
    ]
    assert (hits["entity_name"].iloc[0], hits["entity_type"].iloc[0]) == ("The New York Times", "MEDIA")


def test_aliases_inside_handles_tags_and_words_are_skipped_and_later_ones_still_found():
    """ "adidas" in "@adidas" and "apple" in "pineapple" are no dictionary hits; what follows them in the post
    still is, and "Apple" still stands on its own where "Apple Inc" runs into "Incorporated"."""
    hits, _ = extract(cleaned("@adidas pineapple #adidasrun then Adidas, and Apple Incorporated"))
    dictionary = hits[hits["method"] == "dictionary"]
    assert found(dictionary) == [("adidas", "Adidas", "dictionary", 0.9), ("apple", "Apple", "dictionary", 0.9)]


def test_offsets_stay_aligned_after_characters_that_lower_to_two():
    text = "İstanbul loves Apple"
    hits, _ = extract(cleaned(text))
    assert found(hits) == [("apple", "Apple", "dictionary", 0.9)]
    assert text[hits["start"].iloc[0] : hits["end"].iloc[0]] == "Apple"


def test_labels_known_only_and_new_label_entities():
    platform = PlatformConfig.model_validate(
        {**PLATFORM.model_dump(), "labels": [{"column": "user", "known_only": True}, {"column": "sponsor"}]}
    )
    labels = [
        {"user": "AppleSupport"},  # known handle -> apple
        {"user": "customer_123"},  # unknown, known_only: skipped silently
        {"sponsor": "Acme Corp!"},  # unknown on a normal label column: a new label entity
        {"sponsor": "adidas", "user": "@apple"},
    ]
    hits, counts = extract(cleaned("one", "two", "three", "four", labels=labels), platform=platform)
    assert list(hits[["post_id", "entity_id", "surface", "method"]].itertuples(index=False, name=None)) == [
        ("p0", "apple", "AppleSupport", "label"),
        ("p2", "label:acme-corp", "Acme Corp!", "label"),
        ("p3", "adidas", "adidas", "label"),
        ("p3", "apple", "@apple", "label"),
    ]
    assert (hits["confidence"] == 1.0).all()
    new = hits[hits["entity_id"] == "label:acme-corp"].iloc[0]
    assert (new["entity_name"], new["entity_type"]) == ("Acme Corp!", "LABEL")
    assert counts == {"below_threshold": 0, "new_label_entities": 1}


def test_no_hits_gives_typed_empty_frame():
    hits, counts = extract(cleaned("nothing to see", ""))
    assert hits.empty
    assert counts == {"below_threshold": 0, "new_label_entities": 0}


def test_threshold_filters_each_method():
    frame = cleaned("Apple #apple @apple apple")
    for threshold, methods in [(0.0, 4), (0.8, 3), (0.91, 1), (1.0, 0)]:
        hits, counts = extract(frame, threshold=threshold)
        assert len(hits) == methods
        assert len(hits) + counts["below_threshold"] == 4


def test_load_dictionary_file(tmp_path):
    path = tmp_path / "entities.yaml"
    path.write_text("entities:\n  - id: acme\n    name: Acme\n    aliases: [ACME]\n    handles: [acme_hq]\n")
    table = EntityDictionary.load(path)
    assert table.entities["acme"] == Entity("acme", "Acme", "ORG", ("ACME",), ("acme_hq",), ())
    assert table.by_handle == {"acme_hq": "acme"}


def test_load_rejects_unknown_keys_naming_the_file(tmp_path):
    path = tmp_path / "my_entities.yaml"
    path.write_text("entities:\n  - id: acme\n    name: Acme\n    alias: [ACME]\n")
    with pytest.raises(ValueError) as err:
        EntityDictionary.load(path)
    assert "my_entities.yaml" in str(err.value) and "alias" in str(err.value) and "acme" in str(err.value)


def test_load_requires_id_and_name(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text("entities:\n  - name: Nameless\n")
    with pytest.raises(ValueError, match=r"e\.yaml.*id"):
        EntityDictionary.load(path)


def test_shipped_dictionary_loads():
    table = EntityDictionary.load(DEFAULT_CONFIG_DIR / "entities.yaml")
    assert {"nike", "apple", "adidas"} <= set(table.entities)


def test_label_values_map_to_an_entity_without_becoming_text_aliases():
    """Issue 19 item 4: a label column whose values are plain words ("Delta", "Other Apple product") maps
    them to an entity through `label_values`; the word in a post's text is not an alias."""
    table = EntityDictionary.from_entities(
        [
            Entity("delta", "Delta Air Lines", aliases=("Delta Air Lines",), label_values=("Delta",)),
            Entity("apple", "Apple", aliases=("Apple",), label_values=("Other Apple product or service",)),
        ]
    )
    platform = PlatformConfig.model_validate({**PLATFORM.model_dump(), "labels": [{"column": "brand"}]})
    frame = cleaned(
        "the delta of the river", "great service", "Delta is a Greek letter",
        labels=[{"brand": "Delta"}, {"brand": "other apple product or service"}, {}],
    )  # fmt: skip
    hits, counts = extract_conservative_entities(frame, table, platform, CONF, 0.8)
    assert sorted(zip(hits["post_id"], hits["entity_id"], hits["method"], strict=True)) == [
        ("p0", "delta", "label"),
        ("p1", "apple", "label"),
    ]
    assert counts["new_label_entities"] == 0


def test_label_values_load_from_the_dictionary_file(tmp_path):
    path = tmp_path / "entities.yaml"
    path.write_text("entities:\n  - {id: delta, name: Delta Air Lines, label_values: [Delta]}\n")
    table = EntityDictionary.load(path)
    assert table.label_entity("DELTA ") == "delta" and "delta" not in table.by_name


def test_label_values_on_real_brand_targets(shared_data):
    """brand_product_emotion's target column ("Other Google product or service", ...) maps to entities
    through label_values: no made-up label entities, and none of those phrases is a text alias."""
    from mlds_assets.core.readers import read_export
    from mlds_assets.settings import ReadOptions

    fixture = DEFAULT_CONFIG_DIR.parent / "mlds_assets_tests" / "fixtures" / "brand_emotion_entities.yaml"
    table = EntityDictionary.load(fixture)
    path = shared_data / "brand_product_emotion" / "judge-1377884607_tweet_product_company.csv"
    records = read_export(path, options=ReadOptions()).records
    target = records["emotion_in_tweet_is_directed_at"].fillna("")
    frame = cleaned(*records["tweet_text"].fillna("").tolist(), labels=[{"target": t} if t else {} for t in target])
    platform = PlatformConfig.model_validate({**PLATFORM.model_dump(), "labels": [{"column": "target"}]})
    hits, counts = extract_conservative_entities(frame, table, platform, CONF, 0.8)
    labels = hits[hits["method"] == "label"]
    assert counts["new_label_entities"] == 0 and len(labels) == (target != "").sum()  # 3,291 targets
    other_google = labels[labels["surface"] == "Other Google product or service"]
    assert len(other_google) == 293 and set(other_google["entity_id"]) == {"google"}
    assert not (hits["method"].eq("dictionary") & hits["surface"].str.contains(" or ")).any()
