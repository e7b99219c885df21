"""The read API under concurrent load, against a real uvicorn server on an ephemeral loopback port: `make bench`
(benchmarks/api.py) measures its p95 with this, and the API tests use it. Not part of the package: nothing at
run time starts a server to time itself (a production latency gate would read a measured figure instead)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from mlds_assets.settings import Settings


@contextmanager
def running_api(settings: Settings) -> Iterator[str]:
    """The API served by uvicorn in a thread on 127.0.0.1 and a free port; yields its base URL."""
    import uvicorn

    from mlds_assets.api import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the read API did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def served_api(env: dict[str, str]) -> Iterator[str]:
    """`mlds api` in a process of its own, as users run it, on a free loopback port; yields its base URL once
    /health answers. What `make bench` times: a server in a thread of the load generator's process would
    share its interpreter lock with the 20 client threads, and time them too."""
    import os
    import subprocess
    import sys
    import tempfile

    from mlds_assets.devserver import free_port, wait_for_http

    port = free_port()
    command = [sys.executable, "-m", "mlds_assets.cli", "api", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe nobody reads would stall the server
        server = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)

        def tail() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-3000:]

        try:
            wait_for_http("mlds api", server, f"{url}/health", 120, tail, every=0.05)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


def demo_paths(settings: Settings) -> list[str]:
    """A morning's mix: service, platform list, metrics, entities, searches of every mode, backlog."""
    first = sorted(settings.platforms)[0]
    return [
        "/health",
        "/platforms",
        f"/metrics/{first}",
        "/metrics/cross-platform?metric=share_of_voice",
        "/entities?limit=20",
        "/posts/search?q=refund%20for%20my%20order&limit=10",
        f"/posts/search?q=delayed%20flight&mode=semantic&platform={first}",
        "/posts/search?q=battery&mode=keyword&sentiment=negative",
        "/backlog",
    ]


def load(base_url: str, paths: list[str], clients: int, per_client: int, headers: dict | None = None) -> dict:
    """`clients` closed-loop clients (each sends its next request when its last returns), `per_client` requests
    each round the paths, on a kept-alive connection each; latency of every request, and the clients' own CPU
    per request. The clients are the standard library's HTTP connections in threads: with httpx (threads or
    asyncio alike) twenty clients took 8-10 ms of CPU a request on the cores the server runs on, as much as
    the server's own work on a keyword search, and the p95 measured the load generator."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(base_url)

    def connection() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(address.hostname, address.port, timeout=60)

    def get(http: http.client.HTTPConnection, path: str) -> int:
        http.request("GET", path, headers=headers or {})
        response = http.getresponse()
        response.read()
        return response.status

    def client(index: int) -> list[tuple[str, float, int]]:
        timings, http = [], connection()
        try:
            for k in range(per_client):
                path = paths[(index + k) % len(paths)]
                started = time.perf_counter()
                status = get(http, path)
                timings.append((path, time.perf_counter() - started, status))
        finally:
            http.close()
        return timings

    warm = connection()
    for path in paths:  # first requests load the encoder and open the store: not a steady state
        get(warm, path)
    warm.close()
    cpu = time.process_time()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = [t for batch in pool.map(client, range(clients)) for t in batch]
    return {
        "clients": clients,
        **_latency([(s, status) for _, s, status in results]),
        "client_cpu_ms_per_request": (time.process_time() - cpu) * 1000 / max(len(results), 1),
        "by_path": {  # paths no request reached (fewer requests than paths) are left out
            p: _latency([(s, status) for q, s, status in results if q == p])
            for p in dict.fromkeys(q for q, _, _ in results)
        },
    }


def _latency(timings: list[tuple[float, int]]) -> dict:
    seconds = np.array([s for s, _ in timings])
    return {
        "requests": len(timings),
        "errors": sum(1 for _, status in timings if status >= 400),
        "p50_s": float(np.percentile(seconds, 50)),
        "p95_s": float(np.percentile(seconds, 95)),
        "max_s": float(seconds.max()),
    }
