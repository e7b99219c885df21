"""The Dagster code location: wiring only."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    define_asset_job,
    in_process_executor,
)

from mlds_assets.assets.analytics import (
    build_analytics_checks,
    build_cross_platform_metrics,
    build_platform_metrics,
    build_reports,
)
from mlds_assets.assets.collection import build_backlog_check, build_post_collection, build_store_resync
from mlds_assets.assets.embeddings import build_embedding_checks, build_post_embeddings
from mlds_assets.assets.enhanced_entities import build_enhanced_entities
from mlds_assets.assets.ingestion import build_ingestion_lane
from mlds_assets.assets.resolution import build_accuracy_check, build_resolution, build_review_check
from mlds_assets.assets.sentiment import build_sentiment_checks, build_sentiment_scores
from mlds_assets.assets.topics import CROSS_PLATFORM, build_topic_checks, build_topics
from mlds_assets.checks import build_lane_checks
from mlds_assets.io_manager import LakeIOManager
from mlds_assets.resources import PostStoreResource
from mlds_assets.sensors import (
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


def post_store_resource(settings: Settings) -> PostStoreResource:
    store, weaviate = settings.store, settings.store.weaviate
    return PostStoreResource(
        backend=store.backend,
        uri=settings.store_uri,
        table=store.table,
        vector_dim=store.vector_dim,
        write_batch_rows=store.write_batch_rows,
        weaviate_mode=weaviate.mode,
        weaviate_host=weaviate.host,
        weaviate_port=weaviate.port,
        weaviate_grpc_port=weaviate.grpc_port,
        weaviate_secure=weaviate.secure,
        weaviate_cluster_url=weaviate.cluster_url,
        weaviate_api_key_env=weaviate.api_key_env,
        weaviate_collections=weaviate.collections,
        weaviate_batch_size=weaviate.batch_size,
    )


def build_definitions(settings: Settings, post_store: PostStoreResource | None = None) -> Definitions:
    assets, checks, jobs = [], [], []
    for platform in settings.platforms.values():
        lane = build_ingestion_lane(platform, settings)
        lane.assets.append(build_post_collection(lane, settings))
        sentiment = build_sentiment_scores(lane, platform, settings)
        enhanced = build_enhanced_entities(lane, platform, settings)
        embeddings = build_post_embeddings(lane, platform, settings)
        full_mode = settings.mode_for(platform.name) == "full"
        topics = build_topics(settings, platform.name, [platform.name], platform.schedules.get("topics"), full_mode)
        assets += [*lane.assets, sentiment, enhanced, embeddings, topics]
        checks += [*build_lane_checks(lane, platform, settings), *build_sentiment_checks(lane, settings)]
        checks += [*build_embedding_checks(lane, settings), *build_topic_checks(settings, platform.name)]
        checks.append(build_backlog_check(lane, settings))
        jobs.append(
            define_asset_job(
                fast_path_job_name(platform.name),
                selection=AssetSelection.assets(*lane.assets),
                description=f"Phase 1 for one {platform.name} file: load, clean, entities, basic metrics, post store.",
            )
        )
        jobs.append(
            define_asset_job(
                enrich_job_name(platform.name, "sentiment"),
                selection=AssetSelection.assets(sentiment, lane.key("post_collection"), lane.key("basic_metrics")),
                description=f"Sentiment for one {platform.name} batch now (pending posts only), then store, metrics.",
            )
        )
        jobs.append(
            define_asset_job(
                enrich_job_name(platform.name, "resync"),
                selection=AssetSelection.assets(lane.key("post_collection"), lane.key("basic_metrics")),
                description=f"Re-sync one {platform.name} batch's store records and metrics with what is known now.",
            )
        )
        jobs.append(
            define_asset_job(
                enrich_job_name(platform.name, "entities"),
                selection=AssetSelection.assets(enhanced),
                description=f"spaCy NER + entity ruler for one {platform.name} batch now, pending posts only.",
            )
        )
        jobs.append(
            define_asset_job(
                enrich_job_name(platform.name, "embeddings"),
                selection=AssetSelection.assets(embeddings, lane.key("post_collection"), lane.key("basic_metrics")),
                description=f"Embeddings for one {platform.name} batch now (pending posts only), then store, metrics.",
            )
        )
        jobs.append(
            define_asset_job(
                topics_job_name(platform.name),
                selection=AssetSelection.assets(topics),
                description=f"{platform.name} topics now: refit if due (or forced), else assign new posts.",
            )
        )
    cross_topics = build_topics(
        settings, CROSS_PLATFORM, sorted(settings.platforms), settings.topics.schedule,
        settings.processing.default_mode == "full",
    )  # fmt: skip
    assets.append(cross_topics)
    checks += build_topic_checks(settings, CROSS_PLATFORM)
    jobs.append(
        define_asset_job(
            topics_job_name(CROSS_PLATFORM),
            selection=AssetSelection.assets(cross_topics),
            description="Topics across every platform now: refit if due (or forced), else assign new posts.",
        )
    )
    analytics = [build_platform_metrics(settings, name) for name in sorted(settings.platforms)]
    analytics += [build_cross_platform_metrics(settings), build_reports(settings)]
    assets += analytics
    checks += build_analytics_checks(settings)
    jobs.append(
        define_asset_job(
            DAILY_ANALYTICS_JOB,
            selection=AssetSelection.assets(*analytics),
            description="Phase 3 now: every platform's metrics, the cross-platform metrics and the day's report.",
        )
    )
    resolution, store_resync = build_resolution(settings), build_store_resync(settings)
    assets += [resolution, store_resync]
    jobs.append(
        define_asset_job(
            RESOLVE_JOB,
            selection=AssetSelection.assets(resolution, store_resync),
            description="Cross-platform entity resolution now (decisions in entity_decisions.yaml), then the "
            "store re-synced for the batches whose canonical entities changed.",
        )
    )
    jobs.append(
        define_asset_job(
            STORE_RESYNC_JOB,
            selection=AssetSelection.assets(store_resync),
            description="Carry canonical entities and topic ids into the store for the batches they changed.",
        )
    )
    checks.append(build_review_check(settings))
    accuracy = build_accuracy_check(settings)
    if accuracy is not None:
        checks.append(accuracy)
    automation = AutomationConditionSensorDefinition(
        "mlds_automation",
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.concurrency.automation_interval_seconds,
    )
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=[build_inbox_sensor(settings, jobs), automation, build_run_reaper(settings)],
        resources={
            "io_manager": LakeIOManager(base_path=settings.lake_base),
            "post_store": post_store or post_store_resource(settings),
        },
        # Every job runs its steps in the run's own process: a lane's steps hand each other frames through
        # the lake, one after another, so a process per step only added 5-10 s of start-up per step.
        executor=in_process_executor,
    )


defs = build_definitions(load_settings())
