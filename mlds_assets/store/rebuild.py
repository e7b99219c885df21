"""Rebuild the post store from the lake: the store is a projection, so this is always possible."""

from __future__ import annotations

from pathlib import Path

from mlds_assets.lake import batch_store_records
from mlds_assets.store.base import PostStore


def rebuild_platform(store: PostStore, lake: str, platform: str) -> int:
    """Drop the platform's records and upsert every batch again; returns the records written."""
    existing = store.count({"platform": platform})
    while existing:
        ids = store.fetch({"platform": platform}, limit=10_000)["post_id"].tolist()
        store.delete(ids)
        existing = store.count({"platform": platform})
    written = 0
    for cleaned_file in sorted((Path(lake) / platform / "cleaned_posts").glob("*.parquet")):
        written += store.upsert(batch_store_records(lake, platform, cleaned_file.stem))
    return written
