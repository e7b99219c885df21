"""The inbox sensor: a complete file under <inbox>/<platform>/ is landed by a run, then becomes a batch and a run."""

from __future__ import annotations

import hashlib
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
from mlds_assets.core.landing import landed_keys, landing_refusal, sidecar_info
from mlds_assets.landing_job import LANDING_JOB, VIA_INBOX
from mlds_assets.run_reaper import fail_dead_runs
from mlds_assets.settings import Settings

AUTOMATION_SENSOR = "mlds_automation"  # the AutomationConditionSensorDefinition that definitions.py declares


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
    """Lists only: complete new files become one landing run per tick (copy and hash happen in that run's
    process, not in the tick); a file that run landed becomes a batch and its fast-path run at the next tick."""
    folders = {p.inbox_folder: p.name for p in settings.platforms.values()}

    @sensor(
        name="inbox_sensor",
        jobs=jobs,
        minimum_interval_seconds=settings.ingestion.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Watches {settings.inbox_dir}/<platform>/: each complete new file is landed by a "
        f"`{LANDING_JOB}` run, then becomes a batch and its fast-path run.",
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
        to_land = []
        for platform, path in scan.ready:
            refused = landing_refusal(path.name, scan.state[str(path)][0], ingestion.max_file_bytes)
            if refused:
                context.log.warning(f"{platform}: not landed: {refused}")
                scan.state[str(path)][2] = "rejected"
                continue
            scan.state[str(path)][2] = "landing"
            to_land.append((platform, path))
        runs, new_partitions = [], {}
        if to_land:
            fingerprint = json.dumps(sorted([str(p), *scan.state[str(p)][:2]] for _, p in to_land))
            files = [{"platform": platform, "path": str(path)} for platform, path in to_land]
            runs.append(
                RunRequest(
                    run_key=f"land:{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}",
                    job_name=LANDING_JOB,
                    run_config={"ops": {"land_files": {"config": {"files": files}}}},
                    tags={"mlds/files": str(len(to_land))},
                )
            )
        for platform, key, info in landed_by_inbox_without_batch(settings, context.instance):
            new_partitions.setdefault(platform, []).append(key)
            runs.append(
                RunRequest(
                    run_key=f"{platform}:{key}",
                    job_name=fast_path_job_name(platform),
                    partition_key=key,
                    tags={"mlds/source_file": info["source_name"], "mlds/platform": platform},
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


def landed_by_inbox_without_batch(settings: Settings, instance) -> list[tuple[str, str, dict]]:
    """(platform, batch key, sidecar) for files a landing run landed that are no batch yet. Files `mlds ingest`
    landed are left to it (it adds their batch and runs them itself); a dropped batch's sidecar is gone first."""
    found = []
    for name, platform in settings.platforms.items():
        known = set(instance.get_dynamic_partitions(platform.partitions_name))
        for key in landed_keys(settings.landing_dir, name):
            if key in known:
                continue
            info = sidecar_info(settings.landing_dir, name, key)
            if info is not None and info.get("via") == VIA_INBOX:
                found.append((name, key, info))
    return found
