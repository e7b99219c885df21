"""enhanced_entities through Dagster: every post recorded (with or without entities), pending posts only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey

from mlds_assets.cli import ingest
from mlds_assets.core.demo_data import generate_facebook_csv
from mlds_assets.core.enhanced_entities import flatten
from mlds_assets.sentiment_commands import enrich


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return generate_facebook_csv(tmp_path / "facebook_export.csv", 120, dirty=False).path


def latest_metadata(instance, key: AssetKey) -> dict:
    event = instance.get_latest_materialization_event(key)
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def lake(settings, asset: str, batch: str) -> pd.DataFrame:
    return pd.read_parquet(Path(settings.lake_base) / "facebook" / asset / f"{batch}.parquet")


def test_enrich_entities_records_every_post_and_resumes_nothing_twice(settings, instance, export):
    batch = ingest(settings, export, "facebook", instance)["batch"]
    [outcome] = enrich(settings, "entities", "facebook", instance)
    assert outcome["status"] == "ok", outcome
    per_post = lake(settings, "enhanced_entities", batch)
    assert len(per_post) == 120 and per_post["post_id"].is_unique  # posts with no entity are recorded too
    flat = flatten(per_post)
    assert len(flat) > 0 and set(flat["method"]) <= {"ruler", "ner"}
    assert flat.loc[flat["method"] == "ruler", "entity_id"].notna().all()  # dictionary aliases keep their id
    key = AssetKey(["facebook", "enhanced_entities"])
    assert latest_metadata(instance, key)["processed_this_run"] == 120
    enrich(settings, "entities", "facebook", instance)
    assert latest_metadata(instance, key)["processed_this_run"] == 0  # nothing pending, nothing redone
