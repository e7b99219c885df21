"""store_records: one record per post, entity lists gathered per post, sentiment moving the status."""

from __future__ import annotations

import numpy as np
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


def test_scored_posts_wait_for_their_vector_next():
    sentiment = pd.DataFrame(
        {
            "post_id": ["a", "c"],
            "sentiment_label": ["positive", "negative"],
            "sentiment_score": [0.5, -0.4],
            "scored_at": pd.Timestamp("2026-11-28", tz="UTC"),
        }
    )
    records = store_records(cleaned(), ENTITIES, sentiment)
    assert records["processing_status"].tolist() == ["pending_semantic", "pending_sentiment", "pending_semantic"]
    assert records["sentiment_label"].tolist()[0] == "positive" and pd.isna(records["sentiment_label"][1])


def test_vectors_and_topics_complete_a_record_and_posts_without_stay_pending():
    from mlds_assets.core.embeddings import vector_column, vector_matrix

    sentiment = pd.DataFrame(
        {
            "post_id": ["a", "b"],
            "sentiment_label": ["positive", "neutral"],
            "sentiment_score": [0.5, 0.0],
            "scored_at": pd.Timestamp("2026-11-28", tz="UTC"),
        }
    )
    vectors = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32)
    embeddings = pd.DataFrame(
        {"post_id": ["c", "a"], "vector": vector_column(vectors), "embedded_at": pd.Timestamp("2026-11-29", tz="UTC")}
    )
    topics = pd.DataFrame({"post_id": ["a", "b", "zz"], "topic_id": [3, -1, 9]})
    records = store_records(cleaned(), ENTITIES, sentiment, embeddings=embeddings, topics=topics)

    # a: scored + embedded; b: scored, no vector; c: embedded but not scored
    assert records["processing_status"].tolist() == ["complete", "pending_semantic", "pending_sentiment"]
    assert records["vector"].isna().tolist() == [False, True, False]
    assert np.array_equal(vector_matrix(records["vector"].dropna()), vectors[[1, 0]])
    assert records["topic_id"].tolist()[:2] == [3, -1] and pd.isna(records["topic_id"][2])
    assert records["semantic_processed_at"].notna().tolist() == [True, False, True]
