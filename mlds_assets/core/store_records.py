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
    per_post = entities.drop_duplicates(["post_id", "entity_id"]).groupby("post_id")
    ids = per_post["entity_id"].agg(list)
    names = per_post["entity_name"].agg(list)
    records = cleaned[[c for c in STORE_INPUT_COLUMNS if c in cleaned.columns]].rename(columns={"clean_text": "text"})
    records["hashtags"] = records["hashtags"].map(_as_list)
    records["entities"] = records["post_id"].map(ids).map(_as_list)
    records["entity_names"] = records["post_id"].map(names).map(_as_list)
    records["processing_status"] = "pending_sentiment"
    for engagement in ("likes", "comments", "shares", "views"):
        records[engagement] = records[engagement].astype("Int64")
    return records.reset_index(drop=True)
