"""Phase 1, one lane per platform: raw_posts (+ quarantine) -> cleaned_posts -> conservative_entities
-> basic_metrics. Each ingested file is one dynamic partition of the lane.

Assets only wire config, core functions and the lake; the work is in `mlds_assets.core`.
"""

import time
from dataclasses import dataclass

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    DynamicPartitionsDefinition,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from mlds_assets.assets.automation import gated_eager, resync_condition
from mlds_assets.assets.metadata import counts_table, preview
from mlds_assets.core.cleaning import clean_posts, share_nonempty
from mlds_assets.core.entities import EntityDictionary, extract_conservative_entities
from mlds_assets.core.landing import landed
from mlds_assets.core.mapping import map_batch
from mlds_assets.core.metrics import basic_metrics as compute_basic_metrics
from mlds_assets.core.metrics import metric_value
from mlds_assets.core.readers import detect_format, read_export
from mlds_assets.core.schema import ENGAGEMENT_COLUMNS, POST_COLUMNS, schema_markdown
from mlds_assets.core.upaths import local_copy
from mlds_assets.lake import read_lake_partition, topic_labels
from mlds_assets.settings import PlatformConfig, Settings
from mlds_assets.types import CanonicalPosts, QuarantineRows

# What each downstream asset reads of cleaned_posts (the IO manager reads only these columns).
CLEANING_INPUT_COLUMNS = [c for c in POST_COLUMNS if c != "raw_record"]  # cleaned_posts drops it anyway
ENTITY_INPUT_COLUMNS = ["post_id", "platform", "batch_id", "clean_text", "mentions", "hashtags", "labels"]
METRIC_INPUT_COLUMNS = ["post_id", "author", "created_at", "parent_id", "near_duplicate_of", *ENGAGEMENT_COLUMNS]
SENTIMENT_METRIC_COLUMNS = ["post_id", "sentiment_label", "sentiment_score"]
PHASE1 = ("raw_posts", "quarantine", "cleaned_posts", "conservative_entities", "basic_metrics", "post_collection")


@dataclass
class Lane:
    platform: str
    partitions: DynamicPartitionsDefinition
    assets: list[AssetsDefinition]

    def key(self, name: str) -> AssetKey:
        return AssetKey([self.platform, name])


def build_ingestion_lane(platform: PlatformConfig, settings: Settings) -> Lane:
    name = platform.name
    partitions = DynamicPartitionsDefinition(name=platform.partitions_name)
    eager = gated_eager()
    common = {"partitions_def": partitions, "group_name": name}
    label = platform.display_name or name
    # phase-2 results the metrics use once they exist (the store's post_collection reads the same ones)
    phase2_inputs = [AssetKey([name, a]) for a in ("sentiment_scores", "post_embeddings", "topic_assignments")]
    topic_assignments = AssetKey([name, "topic_assignments"])  # read for posts per topic; no re-run of all batches

    @multi_asset(
        name=f"{name}__raw_posts",
        outs={
            "raw_posts": AssetOut(
                key=[name, "raw_posts"],
                dagster_type=CanonicalPosts,
                description=f"{label} posts mapped onto the canonical schema, one partition per ingested file.",
                metadata={"schema": MetadataValue.md(schema_markdown(POST_COLUMNS))},
                kinds={"pandas", "parquet"},
            ),
            "quarantine": AssetOut(
                key=[name, "quarantine"],
                dagster_type=QuarantineRows,
                description=f"{label} rows that failed validation, with their raw record and reasons.",
                kinds={"pandas", "parquet"},
            ),
        },
        **common,
    )
    def raw_posts(context: AssetExecutionContext):
        started = time.perf_counter()
        source = landed(settings.landing_dir, name, context.partition_key)
        fmt = detect_format(source.path)
        if fmt not in platform.formats:
            raise ValueError(
                f"{source.source_name}: {fmt} is not a format of {name} (formats: {list(platform.formats)})"
            )
        with local_copy(source.path) as path:  # the landed object itself when the landing area is local
            read = read_export(
                path,
                fmt,
                platform.read,
                name=source.source_name,
                max_columns=settings.ingestion.max_columns,
                max_record_bytes=settings.ingestion.max_record_bytes,
            )
        batch = map_batch(read, platform, context.partition_key, source.source_name, settings.ingestion)
        for warning in batch.warnings:
            context.log.warning(warning)
        kept, quarantined = len(batch.posts), len(batch.quarantine)
        context.log.info(f"{source.source_name}: {batch.rows_in} rows in, {kept} kept, {quarantined} quarantined")
        ledger = {
            "rows_in": batch.rows_in,
            "rows_kept": kept,
            "rows_quarantined": quarantined,
            "quarantine_rate": quarantined / batch.rows_in if batch.rows_in else 0.0,
            "source_file": source.source_name,
            "sha256": source.sha256,
            "encoding": read.encoding,
            "seconds": round(time.perf_counter() - started, 3),
        }
        yield Output(
            batch.posts,
            "raw_posts",
            metadata={
                **ledger,
                "dagster/row_count": kept,
                "warnings": MetadataValue.md("\n".join(f"- {w}" for w in batch.warnings) or "_none_"),
                "preview": preview(batch.posts, ["native_id", "created_at", "author", "text", "likes"]),
            },
        )
        yield Output(
            batch.quarantine,
            "quarantine",
            metadata={
                **ledger,
                "dagster/row_count": quarantined,
                "reasons": counts_table(batch.quarantine["field"].value_counts(), "field", "rows"),
                "preview": preview(batch.quarantine, ["source_row", "field", "reason"], rows=10, width=120),
            },
        )

    @asset(
        key=[name, "cleaned_posts"],
        ins={"raw_posts": AssetIn(key=[name, "raw_posts"], metadata={"columns": CLEANING_INPUT_COLUMNS})},
        automation_condition=eager,
        kinds={"pandas", "parquet"},
        description=f"{label} posts with normalised text, links, mentions, hashtags, emoji and near-duplicate flags.",
        **common,
    )
    def cleaned_posts(context: AssetExecutionContext, raw_posts: pd.DataFrame) -> Output[pd.DataFrame]:
        cleaned = clean_posts(raw_posts, settings.cleaning.near_duplicate_min_chars)
        n = len(cleaned)

        return Output(
            cleaned,
            metadata={
                "dagster/row_count": n,
                "near_duplicates": int(cleaned["near_duplicate_of"].notna().sum()),
                "share_with_url": share_nonempty(cleaned["urls"]),
                "share_with_mention": share_nonempty(cleaned["mentions"]),
                "share_with_hashtag": share_nonempty(cleaned["hashtags"]),
                "share_with_emoji": share_nonempty(cleaned["emoji"]),
                "preview": preview(cleaned, ["clean_text", "mentions", "hashtags", "emoji"]),
            },
        )

    @asset(
        key=[name, "conservative_entities"],
        ins={"cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": ENTITY_INPUT_COLUMNS})},
        automation_condition=eager,
        kinds={"pandas", "parquet"},
        description=(
            f"{label} entities from the curated dictionary, handles, hashtags and label columns; "
            f"only confidence >= entities.confidence_threshold ({settings.entities.confidence_threshold})."
        ),
        **common,
    )
    def conservative_entities(context: AssetExecutionContext, cleaned_posts: pd.DataFrame) -> Output[pd.DataFrame]:
        table = EntityDictionary.load(settings.entity_dictionary_path)
        threshold = settings.entities.confidence_threshold
        hits, dropped = extract_conservative_entities(
            cleaned_posts, table, platform, settings.entities.confidence, threshold
        )
        covered = hits["post_id"].nunique()
        return Output(
            hits,
            metadata={
                "dagster/row_count": len(hits),
                "posts_with_entity": covered,
                "entity_coverage": covered / len(cleaned_posts) if len(cleaned_posts) else 0.0,
                "below_threshold_not_kept": dropped["below_threshold"],
                "new_label_entities": dropped["new_label_entities"],
                "threshold": threshold,
                "by_method": counts_table(hits["method"].value_counts(), "method", "hits"),
                "top_entities": counts_table(
                    hits.drop_duplicates(["post_id", "entity_id"])["entity_name"].value_counts().head(10),
                    "entity",
                    "posts",
                ),
            },
        )

    @asset(
        key=[name, "basic_metrics"],
        ins={
            "cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": METRIC_INPUT_COLUMNS}),
            "conservative_entities": AssetIn(key=[name, "conservative_entities"]),
            "quarantine": AssetIn(key=[name, "quarantine"], metadata={"columns": ["source_row"]}),
        },
        deps=phase2_inputs,
        automation_condition=resync_condition(*phase2_inputs, silent=(topic_assignments,)),
        kinds={"pandas", "parquet"},
        description=(
            f"{label} batch metrics: phase 1 at once (processing_level: basic), recomputed as the batch's phase 2 "
            "lands: sentiment for every post (sentiment_complete), then vectors too (full). Entities are the "
            "batch's conservative ones: the daily platform_metrics add what cross-platform resolution linked."
        ),
        **common,
    )
    def basic_metrics(
        context: AssetExecutionContext,
        cleaned_posts: pd.DataFrame,
        conservative_entities: pd.DataFrame,
        quarantine: pd.DataFrame,
    ) -> Output[pd.DataFrame]:
        sentiment = read_lake_partition(
            settings.lake_base, [name, "sentiment_scores"], context.partition_key, SENTIMENT_METRIC_COLUMNS
        )
        metrics = compute_basic_metrics(
            cleaned_posts,
            conservative_entities,
            len(quarantine),
            name,
            context.partition_key,
            settings.metrics.top_entities,
            sentiment=sentiment,
            embedded=read_lake_partition(
                settings.lake_base, [name, "post_embeddings"], context.partition_key, ["post_id"]
            ),
            topics=topic_labels(settings.lake_base, name),
        )
        top = metrics[metrics["metric"] == "top_entity_posts"].set_index("key")["value"].astype(int)
        daily = metrics[metrics["metric"] == "volume_daily"].set_index("key")["value"].astype(int)
        return Output(
            metrics,
            metadata={
                "processing_level": str(metrics["processing_level"].iloc[0]) if len(metrics) else "basic",
                "sentiment_coverage": metric_value(metrics, "sentiment_coverage") or 0.0,
                "sentiment_mean": metric_value(metrics, "sentiment_mean") or 0.0,
                "posts": int(metric_value(metrics, "posts") or 0),
                "quarantine_rate": metric_value(metrics, "quarantine_rate") or 0.0,
                "engagement_per_post": metric_value(metrics, "engagement_per_post") or 0.0,
                "entity_coverage": metric_value(metrics, "entity_coverage") or 0.0,
                "semantic_coverage": metric_value(metrics, "semantic_coverage") or 0.0,
                "top_entities": counts_table(top, "entity", "posts"),
                "volume_daily": counts_table(daily.tail(14), "day", "posts"),
            },
        )

    return Lane(name, partitions, [raw_posts, cleaned_posts, conservative_entities, basic_metrics])
