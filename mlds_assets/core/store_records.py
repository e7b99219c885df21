"""Phase-1 posts as post-store records: what is known now, with every later field pending (null)."""

from __future__ import annotations

import pandas as pd

from mlds_assets.core.cleaning import feature_lists

# What post_collection reads of cleaned_posts.
STORE_INPUT_COLUMNS = [
    "post_id", "platform", "batch_id", "native_id", "author", "created_at", "clean_text", "url",
    "likes", "comments", "shares", "views", "hashtags", "ingested_at",
]  # fmt: skip


def store_records(cleaned: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """One record per post; `entities` lists the canonical ids the conservative pass found."""
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
    for engagement in ("likes", "comments", "shares", "views"):
        records[engagement] = records[engagement].astype("Int64")
    return records.reset_index(drop=True)
