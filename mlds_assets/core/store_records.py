"""Phase-1 posts as post-store records: what is known now, with every later field pending (null)."""

from __future__ import annotations

import pandas as pd

from mlds_assets.core.cleaning import feature_lists

# What post_collection reads of cleaned_posts.
STORE_INPUT_COLUMNS = [
    "post_id", "platform", "batch_id", "native_id", "author", "created_at", "clean_text", "url",
    "likes", "comments", "shares", "views", "hashtags", "ingested_at",
]  # fmt: skip


SENTIMENT_STORE_COLUMNS = ["post_id", "sentiment_label", "sentiment_score", "scored_at"]


def store_records(cleaned: pd.DataFrame, entities: pd.DataFrame, sentiment: pd.DataFrame | None = None) -> pd.DataFrame:
    """One record per post; `entities` lists the canonical ids the conservative pass found, and `sentiment`
    (when the batch has been scored) moves a post from pending_sentiment to sentiment_complete."""
    ids: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    distinct = entities.drop_duplicates(["post_id", "entity_id"])
    columns = (distinct["post_id"].tolist(), distinct["entity_id"].tolist(), distinct["entity_name"].tolist())
    for post, entity, name in zip(*columns, strict=True):
        ids.setdefault(post, []).append(entity)
        names.setdefault(post, []).append(name)
    records = cleaned[[c for c in STORE_INPUT_COLUMNS if c in cleaned.columns]].rename(columns={"clean_text": "text"})
    posts = records["post_id"].tolist()
    records["hashtags"] = feature_lists(records["hashtags"])
    records["entities"] = [ids.get(post, []) for post in posts]
    records["entity_names"] = [names.get(post, []) for post in posts]
    records["processing_status"] = "pending_sentiment"
    if sentiment is not None and len(sentiment):
        scores = sentiment.drop_duplicates("post_id").set_index("post_id")
        records["sentiment_label"] = records["post_id"].map(scores["sentiment_label"]).astype("string")
        records["sentiment_score"] = records["post_id"].map(scores["sentiment_score"]).astype("float64")
        records["sentiment_processed_at"] = records["post_id"].map(scores["scored_at"])
        records.loc[records["sentiment_label"].notna(), "processing_status"] = "sentiment_complete"
    for engagement in ("likes", "comments", "shares", "views"):
        records[engagement] = records[engagement].astype("Int64")
    return records.reset_index(drop=True)
