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
from mlds_assets.run_reaper import fail_dead_runs
from mlds_assets.settings import Settings


def build_run_reaper(settings: Settings) -> SensorDefinition:
    @sensor(
        name="dead_run_reaper",
        minimum_interval_seconds=settings.concurrency.dead_run_check_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Marks failed a STARTED run whose process died (kill -9, OOM): its batch's queue slot and "
        "pool slots are freed, and the next run of that batch can start.",
    )
    def dead_run_reaper(context: SensorEvaluationContext):
        reaped = fail_dead_runs(context.instance, include_daemon_runs=True)
        for run_id, pid in reaped:
            context.log.warning(f"run {run_id}: process {pid} is gone; marked failed, its slots freed")
        return SkipReason(f"{len(reaped)} dead runs marked failed" if reaped else "no dead runs")

    return dead_run_reaper


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
        ingestion = settings.ingestion
        scan = scan_inbox(
            settings.inbox_dir, folders, previous, ingestion.settle_seconds, ingestion.ignore_suffixes,
            follow_symlinks=ingestion.follow_symlinks,
        )  # fmt: skip
        for reason in scan.skipped:
            context.log.warning(reason)
        runs, new_partitions = [], {}
        for platform, path in scan.ready:
            try:
                landed, is_new = land_file(path, settings.landing_dir, platform, ingestion.max_file_bytes)
            except LandingError as exc:
                context.log.warning(f"{platform}: {exc}")
                scan.state[str(path)][2] = "rejected"
                continue
            except OSError as exc:  # unreadable, vanished, disk full: this file waits, the others go on
                context.log.warning(f"{platform}/{path.name}: not landed ({exc.strerror or exc}); retried next tick")
                scan.state.pop(str(path), None)
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
