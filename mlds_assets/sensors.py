"""The inbox sensor: a complete file under <MLDS_HOME>/inbox/<platform>/ becomes a partition and a run."""

from __future__ import annotations

import json

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from mlds_assets.core.inbox import scan_inbox
from mlds_assets.core.landing import LandingError, land_file
from mlds_assets.settings import Settings


def fast_path_job_name(platform: str) -> str:
    return f"{platform}_fast_path"


def topics_job_name(scope: str) -> str:
    """The job that fits or updates one scope's topics now (a platform, or cross_platform)."""
    return f"{scope}_topics"


def enrich_job_name(platform: str, stage: str) -> str:
    """The job that runs one phase-2 stage for a batch now (`mlds enrich`), then re-syncs the store."""
    return f"{platform}_{stage}"


def build_inbox_sensor(settings: Settings, jobs: list) -> SensorDefinition:
    folders = {p.inbox_folder: p.name for p in settings.platforms.values()}

    @sensor(
        name="inbox_sensor",
        jobs=jobs,
        minimum_interval_seconds=settings.ingestion.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Watches {settings.inbox_dir}/<platform>/ and ingests each complete new file once.",
    )
    def inbox_sensor(context: SensorEvaluationContext):
        previous = json.loads(context.cursor) if context.cursor else {}
        scan = scan_inbox(
            settings.inbox_dir, folders, previous, settings.ingestion.settle_seconds, settings.ingestion.ignore_suffixes
        )
        for reason in scan.skipped:
            context.log.info(reason)
        runs, new_partitions = [], {}
        for platform, path in scan.ready:
            try:
                landed, is_new = land_file(path, settings.landing_dir, platform, settings.ingestion.max_file_bytes)
            except LandingError as exc:
                context.log.warning(f"{platform}: {exc}")
                scan.state[str(path)][2] = "rejected"
                continue
            scan.state[str(path)][2] = landed.partition_key
            partitions = set(context.instance.get_dynamic_partitions(settings.platform(platform).partitions_name))
            if not is_new and landed.partition_key in partitions:
                context.log.info(f"{path.name}: same content as batch {landed.partition_key}; nothing to do")
                continue
            new_partitions.setdefault(platform, []).append(landed.partition_key)
            runs.append(
                RunRequest(
                    run_key=f"{platform}:{landed.partition_key}",
                    job_name=fast_path_job_name(platform),
                    partition_key=landed.partition_key,
                    tags={"mlds/source_file": path.name, "mlds/platform": platform},
                )
            )
        cursor = json.dumps(scan.state, sort_keys=True)
        if not runs:
            return SensorResult(skip_reason=SkipReason("no new complete files in the inbox"), cursor=cursor)
        return SensorResult(
            run_requests=runs,
            dynamic_partitions_requests=[
                AddDynamicPartitionsRequest(settings.platform(platform).partitions_name, keys)
                for platform, keys in new_partitions.items()
            ],
            cursor=cursor,
        )

    return inbox_sensor
