"""Phase 3 on demand (`mlds report`) and the whole demo (`mlds demo`): sample exports, ingested, enriched,
reported, through the same run path as every other `mlds` command."""

from __future__ import annotations

from dagster import AssetKey

from mlds_assets.definitions import DAILY_ANALYTICS_JOB
from mlds_assets.demo.exports import generate_exports
from mlds_assets.service.enrich import enrich
from mlds_assets.service.ingest import ingest
from mlds_assets.service.instance import dagster_instance
from mlds_assets.service.runs import run_job
from mlds_assets.service.status import status
from mlds_assets.settings import Settings


def daily_report(settings: Settings, instance=None) -> dict:
    """Phase 3 now: every platform's metrics, the cross-platform metrics and the day's report; the
    outcome carries the report's path."""
    instance = instance or dagster_instance(settings)
    outcome = run_job(settings, instance, DAILY_ANALYTICS_JOB, None, {"mlds/trigger": "mlds report"})
    event = instance.get_latest_materialization_event(AssetKey(["cross_platform", "reports"]))
    report = event.asset_materialization.metadata["report"].value if event else None
    return {"platform": "cross_platform", "batch": "-", "stage": "analytics", **outcome, "report": report}


def demo(settings: Settings, posts_per_platform: int = 400) -> dict:
    """Sample exports for every platform, ingested; each phase-2 stage now (what the nightly schedules
    would do); then the 06:00 analytics run."""
    instance = dagster_instance(settings)
    exports = generate_exports(settings.inbox_dir, posts_per_platform=posts_per_platform, settings=settings)
    results = [ingest(settings, e.path, e.platform, instance) for e in exports]
    enriched = [outcome for stage in ("sentiment", "entities", "embeddings", "topics")
                for outcome in enrich(settings, stage, instance=instance)]  # fmt: skip
    analytics = daily_report(settings, instance)
    return {"ingested": results, "enriched": enriched, "analytics": analytics, **status(settings, instance)}
