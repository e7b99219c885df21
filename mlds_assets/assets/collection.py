"""post_collection: the single writer of the post store, one partition per ingested file.

It upserts whatever is known about the batch's posts (phase 1 now; sentiment, entities, topics and
vectors as later phases add them) and re-syncs eagerly whenever an upstream asset changes.
"""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, AutomationCondition, MaterializeResult, asset

from mlds_assets.assets.ingestion import Lane
from mlds_assets.assets.metadata import preview
from mlds_assets.core.store_records import STORE_INPUT_COLUMNS, store_records
from mlds_assets.resources import PostStoreResource


def build_post_collection(lane: Lane) -> AssetsDefinition:
    name = lane.platform

    @asset(
        key=[name, "post_collection"],
        ins={
            "cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": STORE_INPUT_COLUMNS}),
            "conservative_entities": AssetIn(key=[name, "conservative_entities"]),
        },
        partitions_def=lane.partitions,
        group_name=name,
        automation_condition=AutomationCondition.eager(),
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
        records = store_records(cleaned_posts, conservative_entities)
        written = store.upsert(records)
        store.optimize()  # fold the batch into the indexes; prune old table versions
        context.log.info(f"upserted {written} posts of batch {context.partition_key}")
        return MaterializeResult(
            metadata={
                "upserted": written,
                "store_posts_platform": store.count({"platform": name}),
                "store_pending_sentiment": store.count({"platform": name, "processing_status": "pending_sentiment"}),
                "preview": preview(records, ["post_id", "text", "entity_names", "processing_status"]),
            }
        )

    return post_collection
