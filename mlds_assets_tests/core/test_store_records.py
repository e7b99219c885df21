"""store_records: one record per post, entity lists gathered per post, sentiment moving the status."""

from __future__ import annotations

import pandas as pd

from mlds_assets.core.cleaning import FEATURE_LIST_TYPE
from mlds_assets.core.store_records import store_records


def cleaned() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": ["a", "b", "c"],
            "platform": "facebook",
            "clean_text": ["Nike and Apple", "nothing", "Nike again"],
            "hashtags": pd.Series([["nike"], [], ["run", "nike"]], dtype=FEATURE_LIST_TYPE),
            "likes": [1, None, 3],
            "comments": None,
            "shares": None,
            "views": None,
        }
    )


ENTITIES = pd.DataFrame(
    {  # c's hit comes first and a's Nike twice: order of posts, one entry per entity
        "post_id": ["c", "a", "a", "a"],
        "entity_id": ["nike", "nike", "apple", "nike"],
        "entity_name": ["Nike", "Nike", "Apple", "Nike"],
    }
)


def test_entities_gathered_per_post_in_post_order():
    records = store_records(cleaned(), ENTITIES)
    assert records["post_id"].tolist() == ["a", "b", "c"]
    assert records["entities"].tolist() == [["nike", "apple"], [], ["nike"]]
    assert records["entity_names"].tolist() == [["Nike", "Apple"], [], ["Nike"]]
    assert records["hashtags"].tolist() == [["nike"], [], ["run", "nike"]]
    assert records["text"].tolist() == ["Nike and Apple", "nothing", "Nike again"]
    assert set(records["processing_status"]) == {"pending_sentiment"}
    assert records["likes"].dtype == "Int64"


def test_hashtags_read_back_as_arrays_become_lists():
    frame = cleaned()
    frame["hashtags"] = pd.Series([pd.array(["nike"]).to_numpy(), None, ["run"]], dtype=object)
    assert store_records(frame, ENTITIES.iloc[:0])["hashtags"].tolist() == [["nike"], [], ["run"]]


def test_scored_posts_are_sentiment_complete():
    sentiment = pd.DataFrame(
        {
            "post_id": ["a", "c"],
            "sentiment_label": ["positive", "negative"],
            "sentiment_score": [0.5, -0.4],
            "scored_at": pd.Timestamp("2026-11-28", tz="UTC"),
        }
    )
    records = store_records(cleaned(), ENTITIES, sentiment)
    assert records["processing_status"].tolist() == ["sentiment_complete", "pending_sentiment", "sentiment_complete"]
    assert records["sentiment_label"].tolist()[0] == "positive" and pd.isna(records["sentiment_label"][1])
