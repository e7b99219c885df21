"""The Dagster code location: wiring only."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    define_asset_job,
)

from mlds_assets.assets.ingestion import build_ingestion_lane
from mlds_assets.checks import build_lane_checks
from mlds_assets.io_manager import LakeIOManager
from mlds_assets.sensors import build_inbox_sensor, fast_path_job_name
from mlds_assets.settings import Settings, load_settings


def build_definitions(settings: Settings) -> Definitions:
    assets, checks, jobs = [], [], []
    for platform in settings.platforms.values():
        lane = build_ingestion_lane(platform, settings)
        assets += lane.assets
        checks += build_lane_checks(lane, platform, settings)
        jobs.append(
            define_asset_job(
                fast_path_job_name(platform.name),
                selection=AssetSelection.assets(*lane.assets),
                partitions_def=lane.partitions,
                description=f"Phase 1 for one {platform.name} file: load, clean, entities, basic metrics.",
            )
        )
    automation = AutomationConditionSensorDefinition(
        "mlds_automation", target=AssetSelection.all(), default_status=DefaultSensorStatus.RUNNING
    )
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=[build_inbox_sensor(settings, jobs), automation],
        resources={"io_manager": LakeIOManager(base_path=settings.lake_base)},
    )


defs = build_definitions(load_settings())
