"""Phase 2: sentiment_scores per lane and batch, on the platform's schedule (or right after phase 1 in
`full` mode). Only pending posts are scored, in checkpointed chunks, so a killed run resumes."""

import json
from functools import cache

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    Output,
    asset,
    asset_check,
)

from mlds_assets.assets.automation import POOL_MODELS, phase2_condition, phase2_freshness
from mlds_assets.assets.ingestion import Lane
from mlds_assets.assets.metadata import counts_table, preview
from mlds_assets.assets.pending import run_pending_chunks
from mlds_assets.core.sentiment import SentimentEngine, dictionary_aliases, load_engine, score_rows, version_tag
from mlds_assets.settings import PlatformConfig, SentimentSettings, Settings

SENTIMENT_INPUT_COLUMNS = ["post_id", "clean_text"]


@cache
def _engine(sentiment_json: str, models_dir: str, aliases: tuple[str, ...]) -> tuple[SentimentEngine, str | None]:
    """One engine per configuration per process: `mlds enrich` runs many batches in one process."""
    from pathlib import Path

    return load_engine(SentimentSettings.model_validate_json(sentiment_json), Path(models_dir), aliases)


def configured_engine(settings: Settings) -> tuple[SentimentEngine, str | None]:
    """The configured engine, masking the entity dictionary's aliases (a brand's name carries no sentiment)."""
    aliases = tuple(sorted(set(dictionary_aliases(settings.entity_dictionary_path))))
    return _engine(settings.sentiment.model_dump_json(), str(settings.models_dir), aliases)


def build_sentiment_scores(lane: Lane, platform: PlatformConfig, settings: Settings) -> AssetsDefinition:
    name = lane.platform
    sentiment = settings.sentiment

    @asset(
        key=[name, "sentiment_scores"],
        ins={"cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": SENTIMENT_INPUT_COLUMNS})},
        partitions_def=lane.partitions,
        group_name=name,
        pool=POOL_MODELS,
        automation_condition=phase2_condition(platform, settings, "sentiment"),
        freshness_policy=phase2_freshness(platform, "sentiment"),
        code_version=f"{sentiment.engine}#{sentiment.model_version}",
        kinds={"pandas", "parquet", "vader" if sentiment.engine == "vader" else "pytorch"},
        description=(
            f"{name} sentiment per post (label, score in [-1, 1], class probabilities, engine and model version). "
            f"Scores only posts pending under the current model version, in checkpointed chunks of "
            f"processing.batch_size ({settings.processing.batch_size})."
        ),
    )
    def sentiment_scores(context: AssetExecutionContext, cleaned_posts: pd.DataFrame) -> Output[pd.DataFrame]:
        engine, fell_back = configured_engine(settings)
        if fell_back:
            context.log.warning(f"sentiment engine {sentiment.engine!r} unavailable, using {engine.name}: {fell_back}")
        version = version_tag(engine, sentiment.model_version)
        run, rate = run_pending_chunks(
            context,
            settings,
            name,
            "sentiment_scores",
            cleaned_posts[SENTIMENT_INPUT_COLUMNS],
            version,
            lambda rows: score_rows(engine, version, rows, context.run_id),
            "sentiment",
        )
        scores = run.results
        context.log.info(
            f"{len(scores)} posts scored under {version}: {run.reused} kept from the last run, "
            f"{run.resumed} resumed from checkpoints, {run.computed} scored now in {run.chunks} chunks"
        )
        labels = scores["sentiment_label"].value_counts() if len(scores) else pd.Series(dtype="int64")
        return Output(
            scores,
            metadata={
                "dagster/row_count": len(scores),
                "engine": engine.name,
                "engine_configured": sentiment.engine,
                "model_version": version,
                "coverage": len(scores) / len(cleaned_posts) if len(cleaned_posts) else 1.0,
                "scored_this_run": run.computed,
                "kept_from_last_run": run.reused,
                "resumed_from_checkpoint": run.resumed,
                "chunks_this_run": run.chunks,
                "posts_per_second": rate,
                "mean_score": float(scores["sentiment_score"].mean()) if len(scores) else 0.0,
                "labels": counts_table(labels, "label", "posts"),
                "preview": preview(scores, ["post_id", "sentiment_label", "sentiment_score", "engine"]),
            },
        )

    return sentiment_scores


def build_sentiment_checks(lane: Lane, settings: Settings) -> list[AssetChecksDefinition]:
    threshold = settings.sentiment.coverage_threshold

    @asset_check(
        asset=lane.key("sentiment_scores"),
        name="sentiment_coverage",
        description=f"More than {threshold:.0%} of the batch's posts have a sentiment score.",
        additional_ins={"cleaned_posts": AssetIn(key=lane.key("cleaned_posts"), metadata={"columns": ["post_id"]})},
        partitions_def=lane.partitions,
        blocking=True,
    )
    def sentiment_coverage(sentiment_scores: pd.DataFrame, cleaned_posts: pd.DataFrame) -> AssetCheckResult:
        return coverage_result(sentiment_scores, cleaned_posts, threshold)

    return [sentiment_coverage]


def coverage_result(scores: pd.DataFrame, cleaned_posts: pd.DataFrame, threshold: float) -> AssetCheckResult:
    posts = set(cleaned_posts["post_id"])
    scored = set(scores.loc[scores["sentiment_label"].notna(), "post_id"]) & posts if len(scores) else set()
    coverage = len(scored) / len(posts) if posts else 1.0
    return AssetCheckResult(
        passed=coverage > threshold or not posts,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "coverage": coverage,
            "posts": len(posts),
            "scored": len(scored),
            "missing_examples": json.dumps(sorted(posts - scored)[:5]),
        },
    )
