"""post_collection: the single writer of the post store, one partition per ingested file.

It upserts whatever is known about the batch's posts (phase 1 now; sentiment, entities, topics and
vectors as later phases add them) and re-syncs eagerly whenever an upstream asset changes.
"""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MaterializeResult,
    asset,
    asset_check,
)

from mlds_assets.assets.automation import resync_condition
from mlds_assets.assets.ingestion import Lane
from mlds_assets.assets.metadata import counts_table, preview
from mlds_assets.assets.resolution import CANONICAL, MENTIONS
from mlds_assets.core.store_records import STORE_INPUT_COLUMNS
from mlds_assets.lake import batch_store_records
from mlds_assets.resources import PostStoreResource
from mlds_assets.settings import Settings


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
        automation_condition=resync_condition(*optional),
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
