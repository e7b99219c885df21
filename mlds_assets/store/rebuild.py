"""Rebuild the post store from the lake: the store is a projection, so this is always possible."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlds_assets.core.store_records import SENTIMENT_STORE_COLUMNS, STORE_INPUT_COLUMNS, store_records
from mlds_assets.lake import read_lake_partition, resolved_links
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
        batch = cleaned_file.stem  # what post_collection reads for the batch, read the same way
        cleaned = read_lake_partition(lake, [platform, "cleaned_posts"], batch, STORE_INPUT_COLUMNS)
        entities = read_lake_partition(lake, [platform, "conservative_entities"], batch)
        if entities is None:
            entities = pd.DataFrame(columns=["post_id", "entity_id", "entity_name"])
        sentiment = read_lake_partition(lake, [platform, "sentiment_scores"], batch, SENTIMENT_STORE_COLUMNS)
        resolved = resolved_links(lake, cleaned["post_id"])
        written += store.upsert(store_records(cleaned, entities, sentiment, resolved))
    return written
