"""Phase-1 quality gates, per partition and blocking: a failing batch stops its downstream assets."""

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetIn,
    AssetRecordsFilter,
    MetadataValue,
    asset_check,
)

from mlds_assets.assets.ingestion import Lane
from mlds_assets.settings import PlatformConfig, Settings


def _latest_metadata(context: AssetCheckExecutionContext, lane: Lane, asset: str) -> dict:
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=lane.key(asset), asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def build_lane_checks(lane: Lane, platform: PlatformConfig, settings: Settings) -> list[AssetChecksDefinition]:
    raw_key = lane.key("raw_posts")
    common = {"partitions_def": lane.partitions, "blocking": True}
    required = ["post_id", "platform", "native_id", "batch_id", *platform.required]

    @asset_check(asset=raw_key, name="required_fields_present", description=f"Non-empty: {required}", **common)
    def required_fields_present(raw_posts: pd.DataFrame) -> AssetCheckResult:
        empty = {}
        for column in dict.fromkeys(required):
            values = raw_posts[column]
            missing = (
                values.isna() | (values.astype(str).str.strip() == "")
                if values.dtype != "datetime64[ns, UTC]"
                else values.isna()
            )
            empty[column] = int(missing.sum())
        return AssetCheckResult(
            passed=not any(empty.values()), metadata={"empty_values": empty, "rows": len(raw_posts)}
        )

    @asset_check(asset=raw_key, name="unique_post_ids", description="post_id is unique within the batch.", **common)
    def unique_post_ids(raw_posts: pd.DataFrame) -> AssetCheckResult:
        duplicated = raw_posts["post_id"][raw_posts["post_id"].duplicated()]
        return AssetCheckResult(
            passed=duplicated.empty, metadata={"duplicates": len(duplicated), "examples": duplicated.head(5).tolist()}
        )

    @asset_check(
        asset=raw_key,
        name="rows_accounted_for",
        description="rows in = rows kept + rows quarantined, and every source row is in exactly one of them.",
        additional_ins={"quarantine": AssetIn(key=lane.key("quarantine"))},
        **common,
    )
    def rows_accounted_for(
        context: AssetCheckExecutionContext, raw_posts: pd.DataFrame, quarantine: pd.DataFrame
    ) -> AssetCheckResult:
        rows_in = _latest_metadata(context, lane, "raw_posts").get("rows_in")
        kept_rows, quarantined_rows = set(raw_posts["source_row"]), set(quarantine["source_row"])
        both = kept_rows & quarantined_rows
        passed = (
            rows_in is not None
            and len(raw_posts) + len(quarantine) == rows_in
            and not both
            and len(kept_rows) == len(raw_posts)
            and len(quarantined_rows) == len(quarantine)
        )
        return AssetCheckResult(
            passed=passed,
            metadata={
                "rows_in": rows_in if rows_in is not None else -1,
                "rows_kept": len(raw_posts),
                "rows_quarantined": len(quarantine),
                "rows_in_both": len(both),
            },
        )

    threshold = settings.entities.confidence_threshold

    @asset_check(
        asset=lane.key("conservative_entities"),
        name="confidence_above_threshold",
        description=f"Every conservative entity has confidence >= {threshold}.",
        **common,
    )
    def confidence_above_threshold(conservative_entities: pd.DataFrame) -> AssetCheckResult:
        low = conservative_entities[conservative_entities["confidence"] < threshold]
        return AssetCheckResult(
            passed=low.empty,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "below_threshold": len(low),
                "min_confidence": float(conservative_entities["confidence"].min())
                if len(conservative_entities)
                else 1.0,
                "examples": MetadataValue.md(low.head(5).to_markdown(index=False) if len(low) else "_none_"),
            },
        )

    return [required_fields_present, unique_post_ids, rows_accounted_for, confidence_above_threshold]
