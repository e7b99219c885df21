"""Chunked, checkpointed work over a batch of posts: a run killed at any point resumes where it stopped.

Each finished chunk is one Parquet file, written beside its final name and renamed into place, so a chunk
is either wholly there or not at all. A re-run reads what is there, works only on what is not, and ends
with every post done exactly once. Chunks already folded into the asset's output are removed by the next
run (never by the run that wrote them: its output is stored only after it returns).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from upath import UPath

from mlds_assets.core.parquet_frames import arrow_to_frame, frame_to_arrow


class ChunkCheckpoint:
    def __init__(self, folder: str | UPath) -> None:
        self.folder = UPath(folder)
        self._local = self.folder.protocol in ("", "file", "local")
        self._made = False

    def files(self) -> list[UPath]:
        if not self.folder.exists():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.startswith("chunk-") and p.suffix == ".parquet")

    def load(self) -> pd.DataFrame | None:
        frames = [_read(path) for path in self.files()]
        return pd.concat(frames, ignore_index=True) if frames else None

    def write(self, run_id: str, index: int, rows: pd.DataFrame) -> str:
        if not self._made:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._made = True
        name = f"chunk-{run_id[:8]}-{index:05d}.parquet"
        table = frame_to_arrow(rows)
        if self._local:  # plain os calls: this runs once per chunk, and UPath's path handling costs as much
            folder = str(self.folder.path)
            final, tmp = os.path.join(folder, name), os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, final)
            return final
        with (self.folder / name).open("wb") as handle:  # object stores publish a PUT atomically
            pq.write_table(table, handle)
        return str(self.folder / name)

    def prune(self, done_ids: set[str]) -> int:
        """Remove chunk files whose every post is in `done_ids` (already in the stored output)."""
        removed = 0
        for path in self.files():
            if set(_read(path)["post_id"]) <= done_ids:
                path.unlink()
                removed += 1
        return removed


def _read(path: UPath) -> pd.DataFrame:
    with path.open("rb") as handle:
        return arrow_to_frame(pq.read_table(handle))


def pending_rows(posts: pd.DataFrame, done: pd.DataFrame | None, version: str) -> pd.DataFrame:
    """Posts with no result under `version`: never scored, or scored by another model version."""
    if done is None or not len(done):
        return posts
    current = set(done.loc[done["model_version"] == version, "post_id"])
    return posts[~posts["post_id"].isin(current)]


def current_results(posts: pd.DataFrame, *sources: pd.DataFrame | None, version: str) -> pd.DataFrame | None:
    """Results under `version` for posts still in the batch, one per post (later sources win)."""
    frames = [f for f in sources if f is not None and len(f)]
    if not frames:
        return None
    results = pd.concat(frames, ignore_index=True)
    results = results[(results["model_version"] == version) & results["post_id"].isin(set(posts["post_id"]))]
    return results.drop_duplicates("post_id", keep="last")


def chunks(frame: pd.DataFrame, size: int) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """(k, n, rows) for k = 1..n, in a stable order so a re-run cuts the same chunks."""
    n = max(1, -(-len(frame) // size)) if len(frame) else 0
    for k in range(n):
        yield k + 1, n, frame.iloc[k * size : (k + 1) * size]


@dataclass
class ChunkedRun:
    results: pd.DataFrame  # one row per post of the batch, in the batch's order
    reused: int  # posts whose result was already in the stored output
    resumed: int  # posts whose result came from the chunks of an interrupted run
    computed: int  # posts worked on by this run
    chunks: int  # chunks this run worked through
    pruned: int  # chunk files removed because the stored output already holds them


def run_chunked(
    posts: pd.DataFrame,
    previous: pd.DataFrame | None,
    checkpoint: ChunkCheckpoint,
    version: str,
    chunk_size: int,
    work: Callable[[pd.DataFrame], pd.DataFrame],
    run_id: str,
    progress: Callable[[int, int, int, float], None] | None = None,
) -> ChunkedRun:
    """Results under `version` for every post: reused, resumed from checkpoint chunks, or computed now in
    chunks of `chunk_size`, each checkpointed as it finishes. `work(rows)` returns one row per post with
    `post_id` and `model_version`; `progress(k, n, rows, seconds)` is called after each chunk."""
    stored = current_results(posts, previous, version=version)
    pruned = checkpoint.prune(set(stored["post_id"])) if stored is not None else 0
    done = current_results(posts, previous, checkpoint.load(), version=version)
    todo = pending_rows(posts, done, version)
    computed = []
    for k, n, rows in chunks(todo, chunk_size):
        started = time.perf_counter()
        result = work(rows)
        checkpoint.write(run_id, k, result)  # before the next chunk starts: a kill loses only unfinished work
        computed.append(result)
        if progress:
            progress(k, n, len(rows), time.perf_counter() - started)
    frames = [f for f in (done, *computed) if f is not None and len(f)]
    if not frames:  # nothing to work on and nothing stored: an empty batch. The work on no rows gives the
        # result's columns, so readers of this asset find them (a bare post_id column broke every reader)
        results = work(posts.iloc[:0]).reset_index(drop=True)
    elif len(frames) == 1 or done is None or not len(done):
        results = pd.concat(frames, ignore_index=True)  # chunks are cut in the batch's order already
    else:  # earlier results and new ones: back into the batch's order
        results = pd.concat(frames, ignore_index=True)
        position = pd.Series(np.arange(len(posts)), index=posts["post_id"].to_numpy())
        order = np.argsort(position.reindex(results["post_id"].to_numpy()).to_numpy(), kind="stable")
        results = results.iloc[order].reset_index(drop=True)
    reused = len(stored) if stored is not None else 0
    return ChunkedRun(
        results=results,
        reused=reused,
        resumed=(len(done) if done is not None else 0) - reused,
        computed=len(todo),
        chunks=len(computed),
        pruned=pruned,
    )


class ChunkProgress:
    """Progress lines for `run_chunked`: the first and last chunk, and at most one line per `every_seconds`
    between them. A run-log line costs an event-log write; one per 5000-post chunk of a fast engine is
    a visible share of the run, and a wall of lines nobody reads."""

    def __init__(self, log: Callable[[str], None], stage: str, every_seconds: float = 2.0) -> None:
        self.log, self.stage, self.every_seconds = log, stage, every_seconds
        self.posts, self.seconds, self._last_line = 0, 0.0, float("-inf")

    @property
    def rate(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0

    def __call__(self, k: int, n: int, rows: int, seconds: float) -> None:
        self.posts += rows
        self.seconds += seconds
        now = time.monotonic()
        if k == 1 or k == n or now - self._last_line >= self.every_seconds:
            self._last_line = now
            self.log(f"{self.stage} chunk {k} of {n}: {self.posts:,} posts done, {self.rate:,.0f} posts/s")
