"""What tests read back: an asset partition from the lake, the latest materialisation's metadata, and the
runs the daemon's automation sensor launched after a run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import AssetKey, RunsFilter


def latest_metadata(instance, key: AssetKey) -> dict:
    event = instance.get_latest_materialization_event(key)
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def lake(settings, asset: str, batch: str, platform: str = "facebook") -> pd.DataFrame:
    return pd.read_parquet(Path(settings.lake_base) / platform / asset / f"{batch}.parquet")


def automation_runs(instance, key: AssetKey, after_run_id: str) -> list[dict]:
    """On the launched path, the outcomes (as `mlds` reports a run) of the runs the daemon's automation sensor
    launched for `key` since run `after_run_id` started, oldest first: what `mlds` runs itself in process."""
    from mlds_assets.service.runs import run_outcome

    started = instance.get_run_record_by_id(after_run_id).start_time
    records = instance.get_run_records(RunsFilter(tags={"dagster/from_automation_condition": "true"}))
    return [
        run_outcome(instance, record.dagster_run.run_id)
        for record in reversed(records)  # newest first
        if record.create_timestamp.timestamp() > started and key in (record.dagster_run.asset_selection or ())
    ]
