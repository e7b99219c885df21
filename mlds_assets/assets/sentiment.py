"""Phase 2: sentiment_scores per lane and batch, on the platform's schedule (or right after phase 1 in
`full` mode). Only pending posts are scored, in checkpointed chunks, so a killed run resumes."""

import json
from functools import cache

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetExecutionContext

from mlds_assets.assets.metadata import counts_table, preview
from mlds_assets.assets.phase2_factory import Loaded, Phase2Check, Phase2Stage, coverage
from mlds_assets.core.checkpoints import ChunkedRun
from mlds_assets.core.sentiment import SentimentEngine, dictionary_aliases, load_engine, score_rows, version_tag
from mlds_assets.settings import SentimentSettings, Settings

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


def sentiment_stage(settings: Settings) -> Phase2Stage:
    sentiment = settings.sentiment
    threshold = sentiment.coverage_threshold

    def load(context: AssetExecutionContext) -> Loaded:
        engine, fell_back = configured_engine(settings)
        if fell_back:
            context.log.warning(f"sentiment engine {sentiment.engine!r} unavailable, using {engine.name}: {fell_back}")
        version = version_tag(engine, sentiment.model_version)
        return Loaded(version, lambda rows: score_rows(engine, version, rows, context.run_id), {"engine": engine.name})

    def metadata(run: ChunkedRun, cleaned_posts: pd.DataFrame, loaded: Loaded) -> dict:
        scores = run.results
        labels = scores["sentiment_label"].value_counts() if len(scores) else pd.Series(dtype="int64")
        return {
            "engine": loaded.facts["engine"],
            "engine_configured": sentiment.engine,
            "coverage": coverage(scores, cleaned_posts),
            "chunks_this_run": run.chunks,
            "mean_score": float(scores["sentiment_score"].mean()) if len(scores) else 0.0,
            "labels": counts_table(labels, "label", "posts"),
            "preview": preview(scores, ["post_id", "sentiment_label", "sentiment_score", "engine"]),
        }

    return Phase2Stage(
        asset="sentiment_scores",
        stage="sentiment",
        done="scored",
        code_version=f"{sentiment.engine}#{sentiment.model_version}",
        kinds={"pandas", "parquet", "vader" if sentiment.engine == "vader" else "pytorch"},
        description=(
            "sentiment per post (label, score in [-1, 1], class probabilities, engine and model version). "
            f"Scores only posts pending under the current model version, in checkpointed chunks of "
            f"processing.batch_size ({settings.processing.batch_size})."
        ),
        load=load,
        metadata=metadata,
        input_columns=tuple(SENTIMENT_INPUT_COLUMNS),
        check=Phase2Check(
            "sentiment_coverage",
            f"More than {threshold:.0%} of the batch's posts have a sentiment score.",
            lambda scores, cleaned_posts: coverage_result(scores, cleaned_posts, threshold),
        ),
    )


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
