"""resolved_entities: conservative and enhanced mentions from every platform, resolved into one table of
canonical entities, a mention -> canonical id mapping, and the review queue. Unpartitioned and
cross-platform; re-resolved whenever a batch's entities change, with people's decisions applied first."""

from pathlib import Path

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AutomationCondition,
    MetadataValue,
    Output,
    asset_check,
    multi_asset,
)

from mlds_assets.assets.metadata import counts_table
from mlds_assets.core.enhanced_entities import flatten
from mlds_assets.core.entities import EntityDictionary
from mlds_assets.core.resolution import candidate_text, gold_accuracy, load_decisions, resolve
from mlds_assets.lake import CANONICAL_PATH, MENTIONS_PATH, read_lake_asset
from mlds_assets.settings import Settings

GROUP = "cross_platform"
CANONICAL = AssetKey(CANONICAL_PATH)
MENTIONS = AssetKey(MENTIONS_PATH)
REVIEW = AssetKey([GROUP, "entity_review_queue"])
CONSERVATIVE_COLUMNS = ["post_id", "platform", "entity_id", "surface", "method", "confidence", "entity_type"]


def _lane_mentions(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    conservative, enhanced = [], []
    for name in sorted(settings.platforms):
        found = read_lake_asset(settings.lake_base, [name, "conservative_entities"], CONSERVATIVE_COLUMNS)
        if found is not None:
            conservative.append(found)
        per_post = read_lake_asset(settings.lake_base, [name, "enhanced_entities"])
        if per_post is not None:
            enhanced.append(flatten(per_post).assign(platform=name))
    empty_enhanced = pd.DataFrame(columns=["post_id", "platform", "surface", "label", "method", "confidence"])
    return (
        pd.concat(conservative, ignore_index=True) if conservative else pd.DataFrame(columns=CONSERVATIVE_COLUMNS),
        pd.concat(enhanced, ignore_index=True) if enhanced else empty_enhanced,
    )


def build_resolution(settings: Settings) -> AssetsDefinition:
    lanes = sorted(settings.platforms)
    deps = [AssetKey([n, a]) for n in lanes for a in ("conservative_entities", "enhanced_entities")]
    resolution = settings.entities.resolution

    # Re-resolved whenever any batch's entities change (any platform), once nothing upstream is running.
    when = (
        AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    )
    outs = {
        "resolved_entities": "Canonical entities across platforms: id, name, aliases, type, platforms, mentions.",
        "entity_mentions": "Every mention -> its canonical id, how it was linked, which method and version found it.",
        "entity_review_queue": "Open conflicts with their candidates and evidence; decide with `mlds review decide`.",
    }

    @multi_asset(
        outs={
            name: AssetOut(
                key=AssetKey([GROUP, name]),
                description=text,
                automation_condition=when,
                kinds={"pandas", "parquet"},
                group_name=GROUP,
            )
            for name, text in outs.items()
        },
        deps=deps,
    )
    def resolved_entities(context: AssetExecutionContext):
        conservative, enhanced = _lane_mentions(settings)
        table = EntityDictionary.load(settings.entity_dictionary_path)
        decisions = load_decisions(settings.entity_decisions_path)
        result = resolve(
            conservative, enhanced, table, decisions, resolution.fuzzy_threshold, resolution.discovery_confidence,
            resolution.review_skip_labels, resolution.review_min_posts,
        )  # fmt: skip
        context.log.info(
            f"{len(result.mentions)} mentions, {len(result.canonical)} canonical entities, "
            f"{len(result.review)} open conflicts, {len(decisions)} decisions applied"
        )
        queue = result.review.assign(candidates=[candidate_text(item) for item in result.review.to_dict("records")])
        yield Output(
            result.canonical,
            output_name="resolved_entities",
            metadata={
                "dagster/row_count": len(result.canonical),
                "by_origin": counts_table(result.canonical["origin"].value_counts(), "origin", "entities"),
                "cross_platform": int(result.canonical["platforms"].map(len).gt(1).sum()),
            },
        )
        yield Output(
            result.mentions,
            output_name="entity_mentions",
            metadata={
                "dagster/row_count": len(result.mentions),
                "linked_share": float(result.mentions["canonical_id"].notna().mean()) if len(result.mentions) else 0.0,
                "filtered_from_review": int(result.mentions["link"].eq("filtered").sum()),
                "by_link": counts_table(result.mentions["link"].value_counts(), "link", "mentions"),
            },
        )
        yield Output(
            result.review,
            output_name="entity_review_queue",
            metadata={
                "dagster/row_count": len(result.review),
                "decisions_applied": len(decisions),
                "queue": MetadataValue.md(
                    queue[["conflict_id", "surface", "label", "reason", "candidates", "posts", "mentions"]]
                    .head(25)
                    .to_markdown(index=False)
                    if len(queue)
                    else "_no open conflicts_"
                ),
            },
        )

    return resolved_entities


def build_review_check(settings: Settings) -> AssetChecksDefinition:
    limit = settings.entities.resolution.review_warn

    @asset_check(asset=REVIEW, name="review_queue_size", description=f"WARN above {limit} open conflicts.")
    def review_queue_size(entity_review_queue: pd.DataFrame) -> AssetCheckResult:
        return AssetCheckResult(
            passed=len(entity_review_queue) <= limit,
            severity=AssetCheckSeverity.WARN,
            metadata={"open_conflicts": len(entity_review_queue), "limit": limit},
        )

    return review_queue_size


def build_accuracy_check(settings: Settings) -> AssetChecksDefinition | None:
    """Only where a gold mapping is configured: a check with nothing to compare against could not fail."""
    resolution = settings.entities.resolution
    if not resolution.gold:
        return None
    path = Path(resolution.gold) if Path(resolution.gold).is_absolute() else settings.config_dir / resolution.gold

    @asset_check(
        asset=MENTIONS,
        name="resolution_accuracy",
        description=f"More than {resolution.gold_accuracy:.0%} of the gold surfaces in {path.name} resolve right.",
    )
    def resolution_accuracy(entity_mentions: pd.DataFrame) -> AssetCheckResult:
        found = gold_accuracy(entity_mentions, pd.read_csv(path, dtype=str))
        return AssetCheckResult(
            passed=found["seen"] > 0 and found["accuracy"] > resolution.gold_accuracy,
            severity=AssetCheckSeverity.ERROR,
            metadata={**{k: v for k, v in found.items() if k != "wrong"}, "wrong": ", ".join(found["wrong"]) or "-"},
        )

    return resolution_accuracy
