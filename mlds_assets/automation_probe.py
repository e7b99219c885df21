"""What the automation sensor would launch for one new file, measured without running anything: Dagster's
own condition evaluator over a real instance whose batches are recorded as materialised. `make bench`
reports it at 10 and 200 existing batches; the tests hold it constant."""

from __future__ import annotations

import datetime

from dagster import AssetKey, AssetMaterialization, DagsterInstance, evaluate_automation_conditions

from mlds_assets.assets.collection import STORE_RESYNC
from mlds_assets.assets.resolution import CANONICAL, MENTIONS, REVIEW
from mlds_assets.definitions import build_definitions
from mlds_assets.settings import Settings

FAST_PATH = ("raw_posts", "quarantine", "cleaned_posts", "conservative_entities", "basic_metrics", "post_collection")
CROSS_PLATFORM = (MENTIONS, CANONICAL, REVIEW, STORE_RESYNC)
START = datetime.datetime(2026, 1, 5, 12, 0, tzinfo=datetime.timezone.utc)  # a Monday noon: no cron tick near


def _materialised(instance: DagsterInstance, keys, partition: str | None = None) -> None:
    for key in keys:
        instance.report_runless_asset_event(AssetMaterialization(asset_key=key, partition=partition))


def record_fast_path(instance: DagsterInstance, settings: Settings, platform: str, batch: str) -> None:
    """What a finished fast-path run leaves in the instance for one batch."""
    instance.add_dynamic_partitions(settings.platform(platform).partitions_name, [batch])
    _materialised(instance, [AssetKey([platform, a]) for a in FAST_PATH], batch)


def runs_for_new_file(settings: Settings, instance: DagsterInstance, existing: int, platform: str = "facebook"):
    """{"requested": asset partitions requested, "runs": distinct partitions among them} once the existing
    batches are settled, for: a new file's fast path finishing, then the resolution run that follows it."""
    defs = build_definitions(settings)
    for k in range(existing):
        record_fast_path(instance, settings, platform, f"old{k:04d}")
    _materialised(instance, CROSS_PLATFORM)
    now = START
    result = evaluate_automation_conditions(defs, instance, evaluation_time=now)
    for _ in range(2):  # settle: whatever a first look requests for the old batches is handled
        now += datetime.timedelta(minutes=1)
        result = evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=result.cursor)
    settled = result.total_requested
    steps = []
    record_fast_path(instance, settings, platform, "new-file")
    for then_record in (CROSS_PLATFORM, ()):
        now += datetime.timedelta(minutes=1)
        result = evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=result.cursor)
        requested = {
            key.to_user_string(): sorted(p or "-" for p in result.get_requested_partitions(key))
            for key in defs.resolve_asset_graph().get_all_asset_keys()
            if result.get_num_requested(key)
        }
        steps.append(requested)
        _materialised(instance, then_record)  # the resolution run that was requested, as it would finish
    partitions = {p for step in steps for parts in step.values() for p in parts}
    return {"settled": settled, "steps": steps, "requested": sum(len(v) for s in steps for v in s.values()),
            "runs": len(partitions)}  # fmt: skip
