"""The one shape of a phase-2 stage (sentiment_scores, enhanced_entities, post_embeddings): per lane and batch,
on the platform's `schedules.<stage>` (or right after phase 1 in `full` mode), in the models pool, versioned by
the model, working through only the posts pending under that version in checkpointed chunks (a killed run
resumes), with an optional blocking check per batch.

A stage module declares a `Phase2Stage` (what it is called, how it loads its model and works a chunk, what
metadata it adds); `build_phase2_asset` and `build_phase2_checks` turn it into Dagster definitions."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    CodeReferencesMetadataValue,
    LocalFileCodeReference,
    Output,
    asset,
    asset_check,
)

from mlds_assets.assets.automation import POOL_MODELS, phase2_condition, phase2_freshness
from mlds_assets.assets.ingestion import Lane
from mlds_assets.assets.pending import run_pending_chunks
from mlds_assets.core.checkpoints import ChunkedRun
from mlds_assets.settings import PlatformConfig, Settings


@dataclass(frozen=True)
class Loaded:
    """What a stage loaded for one run: the version its results record, the work on one chunk of pending
    posts (rows -> results), and facts its metadata reports (the engine's name, the vectors' width)."""

    version: str
    work: Callable[[pd.DataFrame], pd.DataFrame]
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Phase2Check:
    """A per-batch check of the stage's results against the batch's posts (`cleaned_posts`, post_id only)."""

    name: str
    description: str
    evaluate: Callable[[pd.DataFrame, pd.DataFrame], AssetCheckResult]
    blocking: bool = True


@dataclass(frozen=True)
class Phase2Stage:
    asset: str  # the asset's name in the lane: `<platform>/<asset>`
    stage: str  # the key of platform.schedules, the progress label and the `mlds enrich --only` name
    done: str  # what happened to a post ("scored"): the `<done>_this_run` metadata and the run log
    code_version: str  # engine and model version: a change makes every batch stale at the next tick
    kinds: set[str]
    description: str  # after the platform's name: "<platform> sentiment per post ..."
    load: Callable[[AssetExecutionContext], Loaded]
    metadata: Callable[[ChunkedRun, pd.DataFrame, Loaded], dict]  # (run, cleaned_posts, loaded) -> extra keys
    input_columns: tuple[str, ...] = ("post_id", "clean_text")
    check: Phase2Check | None = None


def build_phase2_asset(
    lane: Lane, platform: PlatformConfig, settings: Settings, stage: Phase2Stage
) -> AssetsDefinition:
    name = lane.platform
    columns = list(stage.input_columns)

    @asset(
        key=[name, stage.asset],
        ins={"cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": columns})},
        partitions_def=lane.partitions,
        group_name=name,
        pool=POOL_MODELS,
        automation_condition=phase2_condition(platform, settings, stage.stage),
        freshness_policy=phase2_freshness(platform, stage.stage),
        code_version=stage.code_version,
        kinds=stage.kinds,
        description=f"{name} {stage.description}",
        metadata={"dagster/code_references": stage_reference(stage)},  # the factory's own is added beside it
    )
    def phase2_asset(context: AssetExecutionContext, cleaned_posts: pd.DataFrame) -> Output[pd.DataFrame]:
        loaded = stage.load(context)
        run, rate = run_pending_chunks(
            context, settings, name, stage.asset, cleaned_posts[columns], loaded.version, loaded.work, stage.stage
        )
        results = run.results
        context.log.info(
            f"{len(results)} posts {stage.done} under {loaded.version}: {run.reused} kept from the last run, "
            f"{run.resumed} resumed from checkpoints, {run.computed} {stage.done} now in {run.chunks} chunks"
        )
        return Output(
            results,
            metadata={
                "dagster/row_count": len(results),
                "model_version": loaded.version,
                f"{stage.done}_this_run": run.computed,
                "kept_from_last_run": run.reused,
                "resumed_from_checkpoint": run.resumed,
                "posts_per_second": rate,
                **stage.metadata(run, cleaned_posts, loaded),
            },
        )

    return phase2_asset


def stage_reference(stage: Phase2Stage) -> CodeReferencesMetadataValue:
    """Where the stage is declared (its load function's module and line), for the asset's code references."""
    code = stage.load.__code__
    return CodeReferencesMetadataValue(
        code_references=[
            LocalFileCodeReference(
                file_path=code.co_filename, line_number=code.co_firstlineno, label=f"{stage.stage} stage"
            )
        ]
    )


def build_phase2_checks(lane: Lane, stage: Phase2Stage) -> list[AssetChecksDefinition]:
    check = stage.check
    if check is None:
        return []

    @asset_check(
        asset=lane.key(stage.asset),
        name=check.name,
        description=check.description,
        additional_ins={"cleaned_posts": AssetIn(key=lane.key("cleaned_posts"), metadata={"columns": ["post_id"]})},
        partitions_def=lane.partitions,
        blocking=check.blocking,
    )
    def phase2_check(results: pd.DataFrame, cleaned_posts: pd.DataFrame) -> AssetCheckResult:
        return check.evaluate(results, cleaned_posts)

    return [phase2_check]


def coverage(results: pd.DataFrame, cleaned_posts: pd.DataFrame) -> float:
    return len(results) / len(cleaned_posts) if len(cleaned_posts) else 1.0
