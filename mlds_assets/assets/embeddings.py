"""Phase 2: post_embeddings per lane and batch, on the platform's schedules.embeddings (or right after phase
1 in `full` mode). Only posts with no vector under the current model version are embedded, in
checkpointed chunks; the vectors become the post store's vectors and the topic models' input."""

from functools import cache

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetExecutionContext

from mlds_assets.assets.metadata import preview
from mlds_assets.assets.phase2_factory import Loaded, Phase2Check, Phase2Stage, coverage
from mlds_assets.core.checkpoints import ChunkedRun
from mlds_assets.core.embeddings import embed_rows, embedding_dimension, encoder_version, shared_encoder
from mlds_assets.settings import EmbeddingSettings, Settings

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


def embeddings_stage(settings: Settings) -> Phase2Stage:
    config = settings.embeddings

    def load(context: AssetExecutionContext) -> Loaded:
        encoder, version = configured_encoder(settings)
        dim = embedding_dimension(encoder)
        if dim != settings.store.vector_dim:
            raise ValueError(
                f"embedding model {config.model or 'all-MiniLM-L6-v2'} gives {dim}-dimensional vectors but "
                f"store.vector_dim is {settings.store.vector_dim}: set it to {dim}, then rebuild the store"
            )

        def work(rows: pd.DataFrame) -> pd.DataFrame:  # embed_rows looked up here at call time (fault tests)
            return embed_rows(encoder, version, rows, context.run_id, config.batch_size, config.bf16_on_cpu)

        return Loaded(version, work, {"dimensions": dim})

    def metadata(run: ChunkedRun, cleaned_posts: pd.DataFrame, loaded: Loaded) -> dict:
        vectors, dim = run.results, loaded.facts["dimensions"]
        return {
            "dimensions": dim,
            "coverage": coverage(vectors, cleaned_posts),
            "chunks_this_run": run.chunks,
            "preview": preview(vectors.assign(dims=dim), ["post_id", "model_version", "dims", "embedded_at"]),
        }

    return Phase2Stage(
        asset="post_embeddings",
        stage="embeddings",
        done="embedded",
        code_version=f"{config.model or 'minilm'}#{config.model_version}",
        kinds={"pandas", "parquet", "pytorch"},
        description=(
            f"sentence embeddings per post ({settings.store.vector_dim} floats, unit length), with the "
            "model version. Embeds only posts with no vector under the current version, in checkpointed chunks "
            f"of processing.batch_size ({settings.processing.batch_size})."
        ),
        load=load,
        metadata=metadata,
        input_columns=tuple(EMBEDDING_INPUT_COLUMNS),
        check=Phase2Check("embedding_coverage", "Every post of the batch has exactly one vector.", coverage_result),
    )


def coverage_result(post_embeddings: pd.DataFrame, cleaned_posts: pd.DataFrame) -> AssetCheckResult:
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
