"""Phase-1 quality gates, per partition and blocking: a failing batch stops its downstream assets."""

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetRecordsFilter,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from mlds_assets.assets.ingestion import Lane
from mlds_assets.core.quarantine import quarantine_share, top_reasons
from mlds_assets.core.schema import arrow_text
from mlds_assets.lake import read_lake_partition
from mlds_assets.settings import PlatformConfig, Settings


def _latest_metadata(context: AssetCheckExecutionContext, lane: Lane, asset: str) -> dict:
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=lane.key(asset), asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def required_fields_result(raw_posts: pd.DataFrame, required: list[str]) -> AssetCheckResult:
    empty = {}
    for column in dict.fromkeys(required):
        values = raw_posts[column]
        blank = int(values.isna().sum())
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = arrow_text(values)
            blank += int(pc.sum(pc.equal(pc.utf8_trim_whitespace(text), "")).as_py() or 0)
        empty[column] = blank
    return AssetCheckResult(
        check_name="required_fields_present",
        passed=not any(empty.values()),
        metadata={"empty_values": empty, "rows": len(raw_posts)},
    )


def unique_ids_result(raw_posts: pd.DataFrame) -> AssetCheckResult:
    duplicated = raw_posts["post_id"][raw_posts["post_id"].duplicated()]
    return AssetCheckResult(
        check_name="unique_post_ids",
        passed=duplicated.empty,
        metadata={"duplicates": len(duplicated), "examples": duplicated.head(5).tolist()},
    )


def rows_accounted_result(kept_rows: pd.Series, quarantined_rows: pd.Series, rows_in: int | None) -> AssetCheckResult:
    kept, quarantined = np.unique(kept_rows.to_numpy()), np.unique(quarantined_rows.to_numpy())
    both = np.intersect1d(kept, quarantined, assume_unique=True)
    passed = (
        rows_in is not None
        and len(kept_rows) + len(quarantined_rows) == rows_in
        and not len(both)
        and len(kept) == len(kept_rows)
        and len(quarantined) == len(quarantined_rows)
    )
    return AssetCheckResult(
        check_name="rows_accounted_for",
        passed=passed,
        metadata={
            "rows_in": rows_in if rows_in is not None else -1,
            "rows_kept": len(kept_rows),
            "rows_quarantined": len(quarantined_rows),
            "rows_in_both": len(both),
        },
    )


def quarantine_rate_result(quarantine: pd.DataFrame, rows_in: int | None, limit: float) -> AssetCheckResult:
    """A file mapped with the wrong format or columns quarantines most of its rows: the ledger still
    balances, so without this gate such a batch would reach the store as a handful of posts. ERROR, with
    the most common reasons, which say what to fix in the platform YAML."""
    rate = quarantine_share(rows_in or 0, len(quarantine))
    reasons = top_reasons(quarantine)
    return AssetCheckResult(
        check_name="quarantine_rate_below_limit",
        passed=rows_in is not None and rate <= limit,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "quarantine_rate": round(rate, 4),
            "limit": limit,
            "rows_quarantined": len(quarantine),
            "top_reasons": MetadataValue.md(
                "\n".join(f"- {r['rows']} rows: {r['example']}" for r in reasons) if reasons else "_none_"
            ),
        },
    )


def build_lane_checks(lane: Lane, platform: PlatformConfig, settings: Settings) -> list[AssetChecksDefinition]:
    raw_key, quarantine_key = lane.key("raw_posts"), lane.key("quarantine")
    common = {"partitions_def": lane.partitions, "blocking": True}
    required = list(dict.fromkeys(["post_id", "platform", "native_id", "batch_id", *platform.required]))
    gate_columns = list(dict.fromkeys([*required, "source_row"]))  # never the raw record: the gates need no text
    descriptions = {
        "required_fields_present": f"Non-empty: {required}",
        "unique_post_ids": "post_id is unique within the batch.",
        "rows_accounted_for": "rows in = rows kept + rows quarantined; every source row is in exactly one of them.",
        "quarantine_rate_below_limit": (
            f"At most {settings.ingestion.max_quarantine_rate:.0%} of the file's rows quarantined "
            "(ingestion.max_quarantine_rate); above it the mapping is wrong, and the top reasons say how."
        ),
    }

    # One step for the raw_posts gates: the batch is read once, not once per check, and only the
    # columns they test (Dagster allows no column projection on a checked asset's own input).
    @multi_asset_check(
        name=f"{lane.platform}__raw_posts_gates",
        specs=[
            AssetCheckSpec(name, asset=raw_key, description=text, additional_deps=[quarantine_key], **common)
            for name, text in descriptions.items()
        ],
    )
    def raw_posts_gates(context: AssetCheckExecutionContext):
        partition = context.partition_key
        raw_posts = read_lake_partition(settings.lake_base, list(raw_key.path), partition, gate_columns)
        quarantine = read_lake_partition(
            settings.lake_base, list(quarantine_key.path), partition, ["source_row", "reason"]
        )
        if raw_posts is None or quarantine is None:
            raise FileNotFoundError(f"{lane.platform} batch {partition}: raw_posts or quarantine not in the lake")
        yield required_fields_result(raw_posts, required)
        yield unique_ids_result(raw_posts)
        rows_in = _latest_metadata(context, lane, "raw_posts").get("rows_in")
        yield rows_accounted_result(raw_posts["source_row"], quarantine["source_row"], rows_in)
        yield quarantine_rate_result(quarantine, rows_in, settings.ingestion.max_quarantine_rate)

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

    return [raw_posts_gates, confidence_above_threshold]
