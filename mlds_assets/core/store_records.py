"""Phase-1 posts as post-store records: what is known now, with every later field pending (null)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# What post_collection reads of cleaned_posts.
STORE_INPUT_COLUMNS = [
    "post_id", "platform", "batch_id", "native_id", "author", "created_at", "clean_text", "url",
    "likes", "comments", "shares", "views", "hashtags", "ingested_at",
]  # fmt: skip


def _as_list(value) -> list:
    """Lists come back from Parquet as arrays, and a post with no entity maps to NaN: both become lists."""
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else []


def store_records(cleaned: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """One record per post; `entities` lists the canonical ids the conservative pass found."""
    ids: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    distinct = entities.drop_duplicates(["post_id", "entity_id"])
    for post, entity, name in zip(distinct["post_id"], distinct["entity_id"], distinct["entity_name"], strict=True):
        ids.setdefault(post, []).append(entity)
        names.setdefault(post, []).append(name)
    records = cleaned[[c for c in STORE_INPUT_COLUMNS if c in cleaned.columns]].rename(columns={"clean_text": "text"})
    posts = records["post_id"].tolist()
    records["hashtags"] = [_as_list(tags) for tags in records["hashtags"]]
    records["entities"] = [ids.get(post, []) for post in posts]
    records["entity_names"] = [names.get(post, []) for post in posts]
    records["processing_status"] = "pending_sentiment"
    for engagement in ("likes", "comments", "shares", "views"):
        records[engagement] = records[engagement].astype("Int64")
    return records.reset_index(drop=True)
