"""Rebuild the post store from the lake: the store is a projection, so this is always possible."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlds_assets.core.store_records import SENTIMENT_STORE_COLUMNS, STORE_INPUT_COLUMNS, store_records
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
        entities_file = Path(lake) / platform / "conservative_entities" / cleaned_file.name
        cleaned = pd.read_parquet(cleaned_file, columns=STORE_INPUT_COLUMNS)
        entities = (
            pd.read_parquet(entities_file)
            if entities_file.exists()
            else pd.DataFrame(columns=["post_id", "entity_id", "entity_name"])
        )
        sentiment_file = Path(lake) / platform / "sentiment_scores" / cleaned_file.name
        sentiment = None
        if sentiment_file.exists():  # a batch scored in phase 2
            sentiment = pd.read_parquet(sentiment_file, columns=SENTIMENT_STORE_COLUMNS)
        written += store.upsert(store_records(cleaned, entities, sentiment))
    return written
