"""`make bench`, the read API: the demo's data (all three phases), then `api.load_clients` concurrent clients
against a real uvicorn server, beside the same work done by the libraries directly (pandas reads of the
metrics files, LanceDB counts and searches with the query embedded by the same encoder) in as many threads.
Reports p95 over the whole mix and per route (keyword, semantic and hybrid search, /platforms) against the
target `api.p95_limit_s`. This is where the API's latency is measured; no asset starts a server to time it.
Search apart: `mlds search` per mode as a new process each time (process start included), a fresh server's
start-up and first search per mode, then each mode alone under the same concurrent clients."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

SEARCHES = {  # mode -> (the CLI's query, the API request)
    "keyword": ("order", "/posts/search?q=order&mode=keyword&limit=10"),  # a word with hits in the demo's posts
    "semantic": ("delayed flight", "/posts/search?q=delayed%20flight&mode=semantic&limit=10"),
    "hybrid": ("refund for my order", "/posts/search?q=refund%20for%20my%20order&mode=hybrid&limit=10"),
}
TARGETS = {"cli_s": {"keyword": 2.0, "semantic": 5.0}, "api_p95_ms": {"keyword": 100, "semantic": 300}}


def bench_api(posts: int, workdir: str, queue) -> None:
    import os

    from benchmarks.api_load import demo_paths, load, served_api
    from mlds_assets.service.reports import demo
    from mlds_assets.settings import load_settings

    os.environ["DAGSTER_HOME"] = str(Path(workdir) / "home" / "dagster_home")
    env = {"MLDS_HOME": str(Path(workdir) / "home"), "MLDS__SENTIMENT__ENGINE": "vader"}
    settings = load_settings(env=env)
    demo(settings, posts_per_platform=posts)
    clients, per_client = settings.api.load_clients, settings.api.load_requests
    search = {
        "cli": _cli_search(Path(workdir) / "home"),
        "api": _api_search(env, clients, per_client),
        "bare": _bare_search(settings, clients, per_client),
    }
    with served_api(env) as url:
        api = load(url, demo_paths(settings), clients, per_client)
    queue.put(
        {
            "posts_per_platform": posts,
            "target_p95_s": settings.api.p95_limit_s,
            "api": api,
            "bare": _bare(settings, clients, per_client),
            "search": search,
        }
    )


def _cli_search(home: Path, runs: int = 3) -> dict:
    """`mlds search QUERY --mode MODE` as a user runs it: a new process each time, median of `runs`; wall
    seconds and the CPU seconds it used (on a busy machine the wall time is mostly waiting for a core)."""
    env = {**os.environ, "MLDS_HOME": str(home), "MLDS__SENTIMENT__ENGINE": "vader"}
    out = {}
    for mode, (query, _) in SEARCHES.items():
        walls, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "mlds_assets.cli", "search", query, "--mode", mode],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out[mode] = {"wall_s": float(np.median(walls)), "cpu_s": float(np.median(cpus))}
    return out


def _api_search(env: dict, clients: int, per_client: int) -> dict:
    """A fresh server: how long it takes to start (it loads the encoder and opens the store then), its
    first search of each mode, then each mode alone under `clients` concurrent clients; then the same
    loads on a server with two worker processes (`api.workers: 2`, one per core here)."""
    import httpx

    from benchmarks.api_load import load, served_api

    started = time.perf_counter()
    with served_api(env) as url:
        out: dict = {"startup_s": time.perf_counter() - started, "first_ms": {}, "load": {}}
        with httpx.Client(base_url=url, timeout=120) as http:
            for mode, (_, path) in SEARCHES.items():
                begun = time.perf_counter()
                http.get(path).raise_for_status()
                out["first_ms"][mode] = (time.perf_counter() - begun) * 1000
        for mode, (_, path) in SEARCHES.items():
            out["load"][mode] = load(url, [path], clients, per_client)
    with served_api({**env, "MLDS__API__WORKERS": "2"}) as url:
        out["load_2_workers"] = {mode: load(url, [path], clients, per_client) for mode, (_, path) in SEARCHES.items()}
    return out


def _bare_search(settings, clients: int, per_client: int) -> dict:
    """Each mode's search as raw library calls under the same concurrent clients: LanceDB on one table
    handle (as the API holds one), the query embedded by sentence-transformers. What the API's p95 per
    mode is set against: 20 closed-loop clients on two cores queue for the library's own work too."""
    import lancedb
    from lancedb.rerankers import RRFReranker

    from mlds_assets.core.embeddings import shared_encoder

    table = lancedb.connect(settings.store_uri).open_table(settings.store.table)
    encoder = shared_encoder(settings.embeddings.model, settings.embeddings.device)

    def vector(query: str) -> list[float]:
        return encoder.encode([query], normalize_embeddings=True)[0].tolist()

    calls = {
        "keyword": lambda q: table.search(q, query_type="fts").limit(10).to_arrow(),
        "semantic": lambda q: table.search(vector(q), vector_column_name="vector").limit(10).to_arrow(),
        "hybrid": lambda q: (
            table.search(query_type="hybrid", vector_column_name="vector")
            .vector(vector(q))
            .text(q)
            .rerank(RRFReranker())
            .limit(10)
            .to_arrow()
        ),
    }
    out = {}
    for mode, (query, _) in SEARCHES.items():
        calls[mode](query)  # warm: the first query reads the indexes

        def client(index: int, call=calls[mode], query=query) -> list[float]:
            timings = []
            for _ in range(per_client):
                started = time.perf_counter()
                call(query)
                timings.append(time.perf_counter() - started)
            return timings

        with ThreadPoolExecutor(max_workers=clients) as pool:
            seconds = np.array([t for batch in pool.map(client, range(clients)) for t in batch])
        out[mode] = {"p50_s": float(np.percentile(seconds, 50)), "p95_s": float(np.percentile(seconds, 95))}
    return out


def _bare(settings, clients: int, per_client: int) -> dict:
    """The same mix as `demo_paths`, as direct library calls."""
    import pandas as pd

    from mlds_assets.core.embeddings import embed, shared_encoder
    from mlds_assets.service.store import open_store

    lake, first = Path(settings.lake_base), sorted(settings.platforms)[0]
    encoder = shared_encoder(settings.embeddings.model, settings.embeddings.device)

    def vector(q: str) -> list[float]:
        return embed(encoder, [q], 1)[0].tolist()

    def platforms(store) -> None:
        for name in settings.platforms:
            store.count({"platform": name})
            store.count({"platform": name, "processing_status": "pending_sentiment"})
            store.coverage("vector", {"platform": name})

    work = [
        lambda store: None,
        platforms,
        lambda store: pd.read_parquet(lake / first / "platform_metrics.parquet"),
        lambda store: pd.read_parquet(lake / "cross_platform" / "cross_platform_metrics.parquet").query(
            "metric == 'share_of_voice'"
        ),
        lambda store: pd.read_parquet(lake / "cross_platform" / "resolved_entities.parquet").nlargest(20, "mentions"),
        lambda store: store.hybrid_search("refund for my order", vector("refund for my order"), limit=10),
        lambda store: store.vector_search(vector("delayed flight"), {"platform": first}, limit=10),
        lambda store: store.keyword_search("battery", {"sentiment_label": "negative"}, limit=10),
        lambda store: [
            store.count({"platform": n, "processing_status": s})
            for n in settings.platforms
            for s in ("pending_sentiment", "pending_semantic", "complete")
        ],
    ]
    warm = open_store(settings)
    for call in work:
        call(warm)

    def client(index: int) -> list[float]:
        timings = []
        for k in range(per_client):
            started = time.perf_counter()
            work[(index + k) % len(work)](open_store(settings))  # a fresh handle, as each request opens one
            timings.append(time.perf_counter() - started)
        return timings

    with ThreadPoolExecutor(max_workers=clients) as pool:
        seconds = np.array([t for batch in pool.map(client, range(clients)) for t in batch])
    return {"p50_s": float(np.percentile(seconds, 50)), "p95_s": float(np.percentile(seconds, 95))}


ROUTES = (  # (label, how its path in the mix starts): the rows reported per route
    ("keyword search", "/posts/search?q=battery&mode=keyword"),
    ("semantic search", "/posts/search?q=delayed%20flight&mode=semantic"),
    ("hybrid search", "/posts/search?q=refund"),
    ("/platforms", "/platforms"),
)


def search_markdown(search: dict) -> str:
    cli, api = search["cli"], search["api"]
    clients = next(iter(api["load"].values()))["clients"]
    lines = [
        "Search, demo data. `mlds search` as a new process (median of 3; its CPU seconds beside the wall time), "
        f"and a fresh API server (start-up {api['startup_s']:.1f} s: it loads the encoder and opens the store "
        f"then) under {clients} concurrent clients, one mode at a time:",
        "",
        "| mode | CLI wall (s) | CLI CPU (s) | CLI target (s) | API first search (ms) | API p50 (ms) | API p95 (ms) "
        "| API target p95 (ms) | errors | bare library p50 / p95 (ms) | API / bare (p95) "
        "| 2 workers: API p50 / p95 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    two = api.get("load_2_workers", {})
    bare = search.get("bare", {})
    for mode in SEARCHES:
        run, under = cli[mode], api["load"][mode]
        cli_target, api_target = TARGETS["cli_s"].get(mode, "-"), TARGETS["api_p95_ms"].get(mode, "-")
        lines.append(
            f"| {mode} | {run['wall_s']:.2f} | {run['cpu_s']:.2f} | {cli_target} | {api['first_ms'][mode]:.0f} | "
            f"{under['p50_s'] * 1000:.0f} | {under['p95_s'] * 1000:.0f} | {api_target} | {under['errors']} | "
            + (
                f"{bare[mode]['p50_s'] * 1000:.0f} / {bare[mode]['p95_s'] * 1000:.0f} | "
                f"{under['p95_s'] / bare[mode]['p95_s']:.2f}x |"
                if mode in bare
                else "- | - |"
            )
            + (f" {two[mode]['p50_s'] * 1000:.0f} / {two[mode]['p95_s'] * 1000:.0f} |" if mode in two else " - |")
        )
    client_cpu = {mode: api["load"][mode].get("client_cpu_ms_per_request") for mode in SEARCHES}
    if all(ms is not None for ms in client_cpu.values()):
        lines += ["", "The clients' own CPU per request (on the server's cores): "
                  + ", ".join(f"{mode} {ms:.1f} ms" for mode, ms in client_cpu.items()) + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def markdown(r: dict) -> str:
    api, bare = r["api"], r["bare"]

    def row(label: str, stats: dict) -> str:
        return (
            f"| {label} | {stats['requests']} | {stats['p50_s'] * 1000:.0f} | {stats['p95_s'] * 1000:.0f} | "
            f"{stats['max_s'] * 1000:.0f} | {stats['errors']} |"
        )

    routes = [
        row(label, stats)
        for label, prefix in ROUTES
        for path, stats in api.get("by_path", {}).items()
        if path.startswith(prefix)
    ]
    return (
        f"Read API, demo data ({r['posts_per_platform']} posts per platform, all three phases), "
        f"{api['clients']} concurrent clients, {api['requests']} requests round the demo's mix; "
        f"target p95 {r.get('target_p95_s', 2.0):g} s:\n\n"
        "| over HTTP (uvicorn) | requests | p50 (ms) | p95 (ms) | max (ms) | errors |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        + row("the whole mix", api)
        + "\n"
        + "".join(line + "\n" for line in routes)
        + "\nThe same mix on the libraries directly, in as many threads: "
        f"p50 {bare['p50_s'] * 1000:.0f} ms, p95 {bare['p95_s'] * 1000:.0f} ms "
        f"(API / libraries: {api['p50_s'] / bare['p50_s']:.2f}x, {api['p95_s'] / bare['p95_s']:.2f}x).\n"
        + ("\n" + search_markdown(r["search"]) if r.get("search") else "")
    )
