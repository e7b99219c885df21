"""The one way a phase-2 asset works through a batch: only what is pending under its version, in
checkpointed chunks under `<lake>/_checkpoints/<platform>/<asset>/<batch>/`, progress in the run log."""

from collections.abc import Callable

import pandas as pd
from dagster import AssetExecutionContext
from upath import UPath

from mlds_assets.core.checkpoints import ChunkCheckpoint, ChunkedRun, ChunkProgress, run_chunked
from mlds_assets.lake import read_lake_partition
from mlds_assets.settings import Settings


def run_pending_chunks(
    context: AssetExecutionContext,
    settings: Settings,
    platform: str,
    asset: str,
    posts: pd.DataFrame,
    version: str,
    work: Callable[[pd.DataFrame], pd.DataFrame],
    stage: str,
) -> tuple[ChunkedRun, float]:
    """(the run, posts per second of the work done now) for this batch of `platform/asset`."""
    partition = context.partition_key
    previous = read_lake_partition(settings.lake_base, [platform, asset], partition)
    checkpoint = ChunkCheckpoint(UPath(settings.lake_base).joinpath("_checkpoints", platform, asset, partition))
    progress = ChunkProgress(context.log.info, stage)
    run = run_chunked(
        posts, previous, checkpoint, version, settings.processing.batch_size, work, context.run_id, progress
    )
    return run, progress.rate
