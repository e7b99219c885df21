"""What tests read back: an asset partition from the lake, and the latest materialisation's metadata."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import AssetKey


def latest_metadata(instance, key: AssetKey) -> dict:
    event = instance.get_latest_materialization_event(key)
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def lake(settings, asset: str, batch: str, platform: str = "facebook") -> pd.DataFrame:
    return pd.read_parquet(Path(settings.lake_base) / platform / asset / f"{batch}.parquet")
