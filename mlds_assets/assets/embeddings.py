"""Phase 2: post_embeddings per lane and batch, on the platform's schedules.embeddings (or right after phase
1 in `full` mode). Only posts with no vector under the current model version are embedded, in
checkpointed chunks; the vectors become the post store's vectors and the topic models' input."""

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
from mlds_assets.assets.metadata import preview
from mlds_assets.assets.pending import run_pending_chunks
from mlds_assets.core.embeddings import embed_rows, embedding_dimension, encoder_version, shared_encoder
from mlds_assets.settings import EmbeddingSettings, PlatformConfig, Settings

EMBEDDING_INPUT_COLUMNS = ["post_id", "clean_text"]


@cache
def _encoder(embeddings_json: str) -> tuple[object, str]:
    """One encoder per configuration per process: `mlds enrich` embeds many batches in one process."""
    config = EmbeddingSettings.model_validate_json(embeddings_json)
    encoder = shared_encoder(config.model, config.device)
    return encoder, encoder_version(encoder, config.model, config.model_version, config.bf16_on_cpu)


def configured_encoder(settings: Settings) -> tuple[object, str]:
    """(the sentence encoder, the version its vectors record)."""
    return _encoder(settings.embeddings.model_dump_json())


def build_post_embeddings(lane: Lane, platform: PlatformConfig, settings: Settings) -> AssetsDefinition:
    name = lane.platform
    config = settings.embeddings

    @asset(
        key=[name, "post_embeddings"],
        ins={"cleaned_posts": AssetIn(key=[name, "cleaned_posts"], metadata={"columns": EMBEDDING_INPUT_COLUMNS})},
        partitions_def=lane.partitions,
        group_name=name,
        pool=POOL_MODELS,
        automation_condition=phase2_condition(platform, settings, "embeddings"),
        freshness_policy=phase2_freshness(platform, "embeddings"),
        code_version=f"{config.model or 'minilm'}#{config.model_version}",
        kinds={"pandas", "parquet", "pytorch"},
        description=(
            f"{name} sentence embeddings per post ({settings.store.vector_dim} floats, unit length), with the "
            "model version. Embeds only posts with no vector under the current version, in checkpointed chunks "
            f"of processing.batch_size ({settings.processing.batch_size})."
        ),
    )
    def post_embeddings(context: AssetExecutionContext, cleaned_posts: pd.DataFrame) -> Output[pd.DataFrame]:
        encoder, version = configured_encoder(settings)
        dim = embedding_dimension(encoder)
        if dim != settings.store.vector_dim:
            raise ValueError(
                f"embedding model {config.model or 'all-MiniLM-L6-v2'} gives {dim}-dimensional vectors but "
                f"store.vector_dim is {settings.store.vector_dim}: set it to {dim}, then rebuild the store"
            )
        run, rate = run_pending_chunks(
            context,
            settings,
            name,
            "post_embeddings",
            cleaned_posts[EMBEDDING_INPUT_COLUMNS],
            version,
            lambda rows: embed_rows(encoder, version, rows, context.run_id, config.batch_size, config.bf16_on_cpu),
            "embeddings",
        )
        vectors = run.results
        context.log.info(
            f"{len(vectors)} posts embedded under {version}: {run.reused} kept from the last run, "
            f"{run.resumed} resumed from checkpoints, {run.computed} embedded now in {run.chunks} chunks"
        )
        return Output(
            vectors,
            metadata={
                "dagster/row_count": len(vectors),
                "model_version": version,
                "dimensions": dim,
                "coverage": len(vectors) / len(cleaned_posts) if len(cleaned_posts) else 1.0,
                "embedded_this_run": run.computed,
                "kept_from_last_run": run.reused,
                "resumed_from_checkpoint": run.resumed,
                "chunks_this_run": run.chunks,
                "posts_per_second": rate,
                "preview": preview(vectors.assign(dims=dim), ["post_id", "model_version", "dims", "embedded_at"]),
            },
        )

    return post_embeddings


def build_embedding_checks(lane: Lane, settings: Settings) -> list[AssetChecksDefinition]:
    @asset_check(
        asset=lane.key("post_embeddings"),
        name="embedding_coverage",
        description="Every post of the batch has exactly one vector.",
        additional_ins={"cleaned_posts": AssetIn(key=lane.key("cleaned_posts"), metadata={"columns": ["post_id"]})},
        partitions_def=lane.partitions,
        blocking=True,
    )
    def embedding_coverage(post_embeddings: pd.DataFrame, cleaned_posts: pd.DataFrame) -> AssetCheckResult:
        posts = set(cleaned_posts["post_id"])
        embedded = set(post_embeddings["post_id"])
        duplicates = int(post_embeddings["post_id"].duplicated().sum())
        return AssetCheckResult(
            passed=posts <= embedded and duplicates == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "posts": len(posts),
                "embedded": len(posts & embedded),
                "missing": len(posts - embedded),
                "duplicate_vectors": duplicates,
            },
        )

    return [embedding_coverage]
