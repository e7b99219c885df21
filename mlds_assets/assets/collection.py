"""The post store's writers: `post_collection` (one partition per ingested file) and `store_resync`
(cross-platform), both in the `mlds_store` pool, so one step at a time writes the store whatever launched it.

post_collection upserts whatever is known about the batch's posts (phase 1 now; sentiment and vectors as
the batch's phase-2 assets add them) and re-syncs eagerly when one of the batch's own parents changes.
Cross-platform results (canonical entities, topic assignments) reach the store through store_resync, which
re-writes only the batches whose posts they changed: a new file costs work in proportion to that file.
"""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    MaterializeResult,
    Output,
    asset,
    asset_check,
)

from mlds_assets.assets.automation import POOL_STORE, resync_condition
from mlds_assets.assets.ingestion import Lane
from mlds_assets.assets.metadata import counts_table, preview
from mlds_assets.assets.resolution import CANONICAL, GROUP, MENTIONS
from mlds_assets.core.store_records import STORE_INPUT_COLUMNS, changed_posts, link_signatures
from mlds_assets.lake import MENTIONS_PATH, batch_store_records, batches_of_posts, read_lake_partition
from mlds_assets.resources import PostStoreResource
from mlds_assets.settings import Settings

STORE_RESYNC = AssetKey([GROUP, "store_resync"])


def build_post_collection(lane: Lane, settings: Settings) -> AssetsDefinition:
    name = lane.platform
    sentiment_key = lane.key("sentiment_scores")
    embeddings_key = lane.key("post_embeddings")
    topics_key = lane.key("topic_assignments")
    optional = (sentiment_key, embeddings_key, topics_key, MENTIONS, CANONICAL)

    @asset(
        key=[name, "post_collection"],
        ins={
            "cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": STORE_INPUT_COLUMNS}),
            "conservative_entities": AssetIn(key=[name, "conservative_entities"]),
        },
        deps=[sentiment_key, embeddings_key, topics_key, MENTIONS],
        partitions_def=lane.partitions,
        group_name=name,
        automation_condition=resync_condition(*optional, silent=(topics_key, MENTIONS, CANONICAL)),
        pool=POOL_STORE,
        kinds={"lancedb"},
        description=f"{name} posts in the searchable post store (upserted by post_id; later fields pending).",
    )
    def post_collection(
        context: AssetExecutionContext,
        post_store: PostStoreResource,
        cleaned_posts: pd.DataFrame,
        conservative_entities: pd.DataFrame,
    ) -> MaterializeResult:
        store = post_store.get_store()
        records = batch_store_records(
            settings.lake_base, name, context.partition_key, cleaned_posts, conservative_entities
        )
        written = store.upsert(records)
        store.optimize()  # fold the batch into the indexes; prune old table versions
        context.log.info(f"upserted {written} posts of batch {context.partition_key}")
        return MaterializeResult(
            metadata={
                "upserted": written,
                "store_posts_platform": store.count({"platform": name}),
                "store_pending_sentiment": store.count({"platform": name, "processing_status": "pending_sentiment"}),
                "store_semantic_coverage": store.coverage("vector", {"platform": name}),
                "sentiment_in_batch": int(records["sentiment_label"].notna().sum())
                if "sentiment_label" in records
                else 0,
                "vectors_in_batch": int(records["vector"].notna().sum()) if "vector" in records else 0,
                "status": counts_table(records["processing_status"].value_counts(), "processing_status", "posts"),
                "preview": preview(records, ["post_id", "text", "entity_names", "processing_status"]),
            }
        )

    return post_collection


def build_store_resync(settings: Settings) -> AssetsDefinition:
    platforms = sorted(settings.platforms)
    topic_keys = [AssetKey([p, "topic_assignments"]) for p in platforms]

    @asset(
        key=STORE_RESYNC,
        deps=[MENTIONS, CANONICAL, *topic_keys],
        group_name=GROUP,
        pool=POOL_STORE,
        automation_condition=(
            AutomationCondition.any_deps_updated().since_last_handled()
            & ~AutomationCondition.any_deps_in_progress()
            & ~AutomationCondition.in_progress()
        ).with_label("after resolution or topic assignments change"),
        kinds={"lancedb", "parquet"},
        description=(
            "Carries cross-platform results (canonical entities, topic ids) into the post store for just the "
            "batches whose posts they changed; its value is each post's last synced signature."
        ),
    )
    def store_resync(context: AssetExecutionContext, post_store: PostStoreResource) -> Output[pd.DataFrame]:
        mentions = read_lake_partition(
            settings.lake_base, MENTIONS_PATH, None, ["post_id", "platform", "canonical_id", "link"]
        )
        assignments = [
            read_lake_partition(settings.lake_base, list(key.path), None, ["post_id", "platform", "topic_id"])
            for key in topic_keys
        ]
        current = link_signatures(mentions, assignments)
        previous = read_lake_partition(settings.lake_base, list(STORE_RESYNC.path), None)
        changed = changed_posts(previous, current)
        store = post_store.get_store()
        batches, written = {}, 0
        for platform in platforms:
            ids = changed.loc[changed["platform"] == platform, "post_id"]
            # only batches already in the store: one whose blocking gate failed stays out
            in_store = context.instance.get_materialized_partitions(AssetKey([platform, "post_collection"]))
            batches[platform] = [b for b in batches_of_posts(settings.lake_base, platform, ids) if b in in_store]
            for k, batch in enumerate(batches[platform], 1):
                context.log.info(f"{platform}: batch {k} of {len(batches[platform])} ({batch})")
                written += store.upsert(batch_store_records(settings.lake_base, platform, batch))
        if written:
            store.optimize()
        resynced = sum(len(b) for b in batches.values())
        context.log.info(f"{len(changed)} posts changed; {resynced} batches re-synced, {written} records written")
        return Output(
            current,
            metadata={
                "posts_changed": len(changed),
                "batches_resynced": resynced,
                "records_written": written,
                "dagster/row_count": len(current),
                "by_platform": counts_table(pd.Series({p: len(b) for p, b in batches.items()}), "platform", "batches"),
            },
        )

    return store_resync


def build_backlog_check(lane: Lane, settings: Settings) -> AssetChecksDefinition:
    limit = settings.sentiment.backlog_warn

    @asset_check(
        asset=lane.key("post_collection"),
        name="sentiment_backlog",
        description=f"WARN when more than {limit:,} {lane.platform} posts in the store are pending sentiment.",
        partitions_def=lane.partitions,
    )
    def sentiment_backlog(post_store: PostStoreResource) -> AssetCheckResult:
        store = post_store.get_store()
        pending = store.count({"platform": lane.platform, "processing_status": "pending_sentiment"})
        return AssetCheckResult(
            passed=pending <= limit,
            severity=AssetCheckSeverity.WARN,
            metadata={"pending_sentiment": pending, "limit": limit},
        )

    return sentiment_backlog
