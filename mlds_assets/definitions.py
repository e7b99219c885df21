"""The Dagster code location: wiring only."""

from __future__ import annotations

from collections.abc import Callable

from dagster import (
    AssetKey,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    define_asset_job,
    in_process_executor,
)

from mlds_assets.assets.analytics import (
    CROSS_METRICS,
    REPORTS,
    build_analytics_checks,
    build_cross_platform_metrics,
    build_platform_metrics,
    build_reports,
)
from mlds_assets.assets.catalog import with_catalog
from mlds_assets.assets.collection import STORE_RESYNC, build_backlog_check, build_post_collection, build_store_resync
from mlds_assets.assets.embeddings import embeddings_stage
from mlds_assets.assets.enhanced_entities import enhanced_entities_stage
from mlds_assets.assets.ingestion import PHASE1, build_ingestion_lane
from mlds_assets.assets.phase2_factory import Phase2Stage, build_phase2_asset, build_phase2_checks
from mlds_assets.assets.resolution import (
    CANONICAL,
    MENTIONS,
    REVIEW,
    build_accuracy_check,
    build_resolution,
    build_review_check,
)
from mlds_assets.assets.sentiment import sentiment_stage
from mlds_assets.assets.topics import CROSS_PLATFORM, build_topic_checks, build_topics
from mlds_assets.checks import build_lane_checks
from mlds_assets.io_manager import LakeIOManager
from mlds_assets.landing_job import build_landing_job
from mlds_assets.resources import PostStoreResource
from mlds_assets.sensors import (
    AUTOMATION_SENSOR,
    build_inbox_sensor,
    build_run_reaper,
    enrich_job_name,
    fast_path_job_name,
    topics_job_name,
)
from mlds_assets.settings import Settings, load_settings

DAILY_ANALYTICS_JOB = "daily_analytics"
RESOLVE_JOB = "resolve_entities"
STORE_RESYNC_JOB = "store_resync"


def phase2_stages(settings: Settings) -> list[Phase2Stage]:
    """The chunked, checkpointed, versioned stages of every lane, in the order they are declared."""
    return [sentiment_stage(settings), enhanced_entities_stage(settings), embeddings_stage(settings)]


# The jobs, as data: (name, the assets it selects, what it does). A platform's lane jobs name assets of that
# lane; "{platform}" in the description is the platform's name.
STORE_AND_METRICS = ("post_collection", "basic_metrics")
LANE_JOBS: list[tuple[Callable[[str], str], tuple[str, ...], str]] = [
    (fast_path_job_name, PHASE1, "Phase 1 for one {platform} file: load, clean, entities, basic metrics, post store."),
    (
        lambda platform: enrich_job_name(platform, "sentiment"),
        ("sentiment_scores", *STORE_AND_METRICS),
        "Sentiment for one {platform} batch now (pending posts only), then store, metrics.",
    ),
    (
        lambda platform: enrich_job_name(platform, "resync"),
        STORE_AND_METRICS,
        "Re-sync one {platform} batch's store records and metrics with what is known now.",
    ),
    (
        lambda platform: enrich_job_name(platform, "entities"),
        ("enhanced_entities",),
        "spaCy NER + entity ruler for one {platform} batch now, pending posts only.",
    ),
    (
        lambda platform: enrich_job_name(platform, "embeddings"),
        ("post_embeddings", *STORE_AND_METRICS),
        "Embeddings for one {platform} batch now (pending posts only), then store, metrics.",
    ),
    (
        topics_job_name,
        ("topics", "topic_assignments"),
        "{platform} topics now: refit if due (or forced), else assign new posts.",
    ),
]


def cross_platform_jobs(settings: Settings) -> list[tuple[str, list[AssetKey], str]]:
    metrics = [AssetKey([platform, "platform_metrics"]) for platform in sorted(settings.platforms)]
    return [
        (
            topics_job_name(CROSS_PLATFORM),
            [AssetKey([CROSS_PLATFORM, "topics"]), AssetKey([CROSS_PLATFORM, "topic_assignments"])],
            "Topics across every platform now: refit if due (or forced), else assign new posts.",
        ),
        (
            DAILY_ANALYTICS_JOB,
            [*metrics, CROSS_METRICS, REPORTS],
            "Phase 3 now: every platform's metrics, the cross-platform metrics and the day's report.",
        ),
        (
            RESOLVE_JOB,
            [CANONICAL, MENTIONS, REVIEW, STORE_RESYNC],
            "Cross-platform entity resolution now (decisions in entity_decisions.yaml), then the "
            "store re-synced for the batches whose canonical entities changed.",
        ),
        (
            STORE_RESYNC_JOB,
            [STORE_RESYNC],
            "Carry canonical entities and topic ids into the store for the batches they changed.",
        ),
    ]


def build_jobs(settings: Settings) -> list:
    """Every platform's lane jobs (in the platforms' order), then the cross-platform ones."""
    specs = [
        (job_name(platform), [AssetKey([platform, name]) for name in names], description.format(platform=platform))
        for platform in settings.platforms
        for job_name, names, description in LANE_JOBS
    ]
    specs += cross_platform_jobs(settings)
    return [
        define_asset_job(name, AssetSelection.assets(*keys), description=description)
        for name, keys, description in specs
    ]


def build_definitions(settings: Settings, post_store: PostStoreResource | None = None) -> Definitions:
    assets, checks = [], []
    for platform in settings.platforms.values():
        lane = build_ingestion_lane(platform, settings)
        lane.assets.append(build_post_collection(lane, settings))
        assets += lane.assets
        for stage in phase2_stages(settings):
            assets.append(build_phase2_asset(lane, platform, settings, stage))
            checks += build_phase2_checks(lane, stage)
        full_mode = settings.mode_for(platform.name) == "full"
        assets.append(
            build_topics(settings, platform.name, [platform.name], platform.schedules.get("topics"), full_mode)
        )
        checks += [*build_lane_checks(lane, platform, settings), *build_topic_checks(settings, platform.name)]
        checks.append(build_backlog_check(lane, settings))
    cross_topics = build_topics(
        settings, CROSS_PLATFORM, sorted(settings.platforms), settings.topics.schedule,
        settings.processing.default_mode == "full",
    )  # fmt: skip
    assets.append(cross_topics)
    checks += build_topic_checks(settings, CROSS_PLATFORM)
    assets += [build_platform_metrics(settings, name) for name in sorted(settings.platforms)]
    assets += [build_cross_platform_metrics(settings), build_reports(settings)]
    checks += build_analytics_checks(settings)
    assets += [build_resolution(settings), build_store_resync(settings)]
    jobs = [*build_jobs(settings), build_landing_job(settings)]
    checks.append(build_review_check(settings))
    accuracy = build_accuracy_check(settings)
    if accuracy is not None:
        checks.append(accuracy)
    automation = AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.concurrency.automation_interval_seconds,
    )
    return Definitions(
        assets=with_catalog(assets, settings),
        asset_checks=checks,
        jobs=jobs,
        sensors=[build_inbox_sensor(settings, jobs), automation, build_run_reaper(settings)],
        resources={
            "io_manager": LakeIOManager(base_path=settings.lake_base),
            "post_store": post_store or PostStoreResource.from_settings(settings),
        },
        # Every job runs its steps in the run's own process: a lane's steps hand each other frames through
        # the lake, one after another, so a process per step only added 5-10 s of start-up per step.
        executor=in_process_executor,
    )


defs = build_definitions(load_settings())
