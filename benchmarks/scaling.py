"""`make bench`, scaling: the fast path and enrichment (VADER sentiment, the cheapest phase-2 stage, so
that 1M posts finish in minutes) at growing sizes, each step in a fresh process so its peak memory is its
own: generating the export, `mlds ingest` (the fast path through Dagster), then `mlds enrich --only
sentiment` (scores, store and metrics re-sync)."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

SIZES = (10_000, 100_000, 1_000_000)

# The scaling table measures the pipeline with the cheapest engine, as before the fine-tuned model became the
# default (its speed is in the README's sentiment section).
VADER = {"MLDS__SENTIMENT__ENGINE": "vader"}


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _generate(rows: int, workdir: str, queue) -> None:
    from mlds_assets.demo.exports import generate_facebook_csv

    queue.put(str(generate_facebook_csv(Path(workdir) / f"facebook_{rows}.csv", rows, dirty=True).path))


def _fast_path(path: str, workdir: str, queue) -> None:
    from mlds_assets.definitions import build_definitions
    from mlds_assets.service.ingest import ingest
    from mlds_assets.service.instance import dagster_instance
    from mlds_assets.settings import load_settings

    settings = load_settings(env={"MLDS_HOME": str(Path(workdir) / "home"), **VADER})
    instance = dagster_instance(settings)  # the persistent SQLite instance mlds uses
    build_definitions(settings)  # loading the code location: start-up, not the fast path
    before = _peak_mb()
    started = time.perf_counter()
    outcome = ingest(settings, Path(path), "facebook", instance)
    seconds = time.perf_counter() - started
    queue.put({"status": outcome["status"], "seconds": seconds, "peak_mb": _peak_mb(), "start_mb": before})


def _enrich(_: str, workdir: str, queue) -> None:
    from mlds_assets.service.enrich import enrich
    from mlds_assets.service.instance import dagster_instance
    from mlds_assets.settings import load_settings

    settings = load_settings(env={"MLDS_HOME": str(Path(workdir) / "home"), **VADER})
    instance = dagster_instance(settings)
    before = _peak_mb()
    started = time.perf_counter()
    outcomes = enrich(settings, "sentiment", "facebook", instance)
    seconds = time.perf_counter() - started
    queue.put({"status": outcomes[0]["status"], "seconds": seconds, "peak_mb": _peak_mb(), "start_mb": before})


def bench_scaling(sizes=SIZES) -> list[dict]:
    from benchmarks.fast_path import in_fresh_process

    rows = []
    for size in sizes:
        workdir = tempfile.mkdtemp(prefix="mlds-scaling-")
        try:
            print(f"scaling: {size:,} posts ...", flush=True)
            path = in_fresh_process(_generate, size, workdir)
            fast = in_fresh_process(_fast_path, path, workdir)
            enriched = in_fresh_process(_enrich, path, workdir)
            rows.append({"posts": size, "fast_path": fast, "sentiment": enriched})
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| posts | fast path (s) | posts/s | peak RSS (MB) | enrichment: sentiment (s) | posts/s | peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        fast, sentiment = r["fast_path"], r["sentiment"]
        lines.append(
            f"| {r['posts']:,} | {fast['seconds']:.1f} | {r['posts'] / fast['seconds']:,.0f} | {fast['peak_mb']:,} | "
            f"{sentiment['seconds']:.1f} | {r['posts'] / sentiment['seconds']:,.0f} | {sentiment['peak_mb']:,} |"
        )
    return "\n".join(lines) + "\n"
