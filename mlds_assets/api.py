"""The read API (`mlds api`): what dashboards and notebooks read, without touching Dagster. FastAPI over
the lake's analytics assets and the post store; bound to 127.0.0.1 by default; when the variable named by
`api.api_key_env` is set, every data route needs that key in the `X-API-Key` header. The OpenAPI schema is
at /openapi.json and its docs at /docs and /redoc, served from the fastapi-offline package (no CDN)."""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import threading
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from mlds_assets.core.analytics import CROSS_PLATFORM
from mlds_assets.lake import read_lake_partition
from mlds_assets.settings import Settings

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="needed when the server has a key")


# What a search hit shows: the post, its analysis and the search's score (`_score`, or `_distance` for a
# vector search)
HIT_COLUMNS = [
    "post_id", "platform", "created_at", "author", "text", "url", "entities", "sentiment_label",
    "sentiment_score", "topic_id", "processing_status", "_score", "_distance",
]  # fmt: skip


def _records(frame: pd.DataFrame | None) -> list[dict]:
    if frame is None or not len(frame):
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))


def _hit_records(hits, columns: list[str]) -> list[dict]:
    """Search hits (Arrow from the LanceDB store's async search, else pandas) as JSON-ready rows with the
    values `_records` gives: times as ISO 8601 in UTC to the millisecond, NaN as null. Arrow rows go
    straight to Python: pandas and a JSON round trip were 2 of a keyword search's 10 ms per request."""
    if isinstance(hits, pd.DataFrame):
        return _records(hits[[c for c in columns if c in hits.columns]])
    rows = hits.select([c for c in columns if c in hits.column_names]).to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime):
                utc = value.astimezone(UTC) if value.tzinfo else value  # the store's times are UTC
                row[key] = utc.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            elif isinstance(value, float) and math.isnan(value):
                row[key] = None
    return rows


class SearchResources:
    """What requests share: one post-store handle (reading every commit as it lands) and the query encoder.
    Loaded at start-up, so the first search is as fast as the next; opened on first use when start-up
    could not (a store that was down, say), so the API still serves what it can."""

    def __init__(self, settings: Settings):
        self.settings, self._store, self._lock = settings, None, threading.Lock()
        self.loaded: dict[str, bool] = {"store": False, "encoder": False}

    def store(self):
        from mlds_assets.service.store import open_store

        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings, long_lived=True)
                self.loaded["store"] = True
            return self._store

    def opened(self):
        """The store handle when it is open already (no lock: an event loop must not wait on one)."""
        return self._store

    def load(self) -> list[str]:
        """Open the store, load the encoder and run one search of each mode (the first full-text and
        vector queries read their indexes); returns what could not be loaded."""
        from mlds_assets.core import status  # noqa: F401  (the /platforms code, imported once here)
        from mlds_assets.core.embeddings import ModelUnavailableError, embed_query
        from mlds_assets.service.store import search
        from mlds_assets.store.base import StoreUnavailableError

        problems = []
        try:
            embed_query(self.settings.embeddings, "warm up")
            self.loaded["encoder"] = True
        except ModelUnavailableError as error:
            problems.append(f"semantic search unavailable: {error}")
        try:
            store = self.store()
        except StoreUnavailableError as error:
            return [*problems, f"post store not reachable at start-up (tried again per request): {error}"]
        for mode in ("keyword", "semantic", "hybrid") if self.loaded["encoder"] else ("keyword",):
            search(self.settings, "warm up", limit=1, mode=mode, store=store)
        return problems


def create_app(settings: Settings) -> FastAPI:
    from fastapi_offline import FastAPIOffline

    resources = SearchResources(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for problem in resources.load():
            print(f"mlds api: warning: {problem}", file=sys.stderr)
        yield

    app: FastAPI = FastAPIOffline(
        title="MLDS read API",
        version="1",
        description="Platforms, metrics, entities, post search and the enrichment backlog.",
        lifespan=lifespan,
    )
    app.state.search = resources

    async def require_key(given: str | None = Security(API_KEY_HEADER)) -> None:  # no I/O: on the event loop
        expected = os.environ.get(settings.api.api_key_env)
        if expected is not None and not expected.strip():  # set but empty: a mistake, never "no key"
            raise HTTPException(status_code=503, detail=f"{settings.api.api_key_env} is set but empty: no data served")
        if expected and not (given and secrets.compare_digest(given, expected)):
            raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")

    def known(platform: str) -> str:
        if platform not in settings.platforms:
            raise HTTPException(
                status_code=404, detail=f"unknown platform {platform!r}; known: {sorted(settings.platforms)}"
            )
        return platform

    store = resources.store  # one handle; it sees what was written since each read

    @app.get("/health", tags=["service"])
    def health() -> dict:
        """Up, which store and lake it reads, and what it has loaded for search (no key needed)."""
        return {
            "status": "ok", "store": settings.store.backend, "platforms": len(settings.platforms),
            "loaded": dict(resources.loaded),
        }  # fmt: skip

    data = [Depends(require_key)]

    @app.get("/platforms", tags=["platforms"], dependencies=data)
    def platforms() -> dict:
        """Per platform: posts, quarantined rows, entities, coverage and the last ingestion."""
        from mlds_assets.core.status import platform_status, store_status

        posts_store = store()
        out = {name: {**platform_status(settings.lake_base, name), **store_status(posts_store, name)}
               for name in sorted(settings.platforms)}  # fmt: skip
        return {"platforms": out}

    @app.get("/metrics/cross-platform", tags=["metrics"], dependencies=data)
    def cross_platform_metrics(metric: str | None = None) -> dict:
        """The latest cross-platform metrics (long form: metric, key, value, processing_level, coverage)."""
        return _metrics(settings, [CROSS_PLATFORM, "cross_platform_metrics"], metric)

    @app.get("/metrics/{platform}", tags=["metrics"], dependencies=data)
    def platform_metrics(platform: str, metric: str | None = None) -> dict:
        """The latest metrics of one platform; `metric` narrows to one (e.g. share_of_voice)."""
        return _metrics(settings, [known(platform), "platform_metrics"], metric)

    @app.get("/entities", tags=["entities"], dependencies=data)
    def entities(limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict:
        """Canonical entities across platforms (from resolution), most mentioned first."""
        table = read_lake_partition(settings.lake_base, [CROSS_PLATFORM, "resolved_entities"], None)
        if table is None:
            return {"entities": [], "total": 0, "note": "entity resolution has not run yet"}
        table = table.sort_values("mentions", ascending=False, kind="stable")
        return {"entities": _records(table.iloc[offset : offset + limit]), "total": len(table)}

    @app.get("/posts/search", tags=["posts"], dependencies=data)
    async def search_posts(
        q: str = Query(..., min_length=1, description="the query"),
        mode: Literal["hybrid", "semantic", "keyword"] = "hybrid",
        platform: str | None = None,
        entity: str | None = Query(None, description="canonical entity id, e.g. nike"),
        sentiment: Literal["negative", "neutral", "positive"] | None = None,
        topic: int | None = Query(None, ge=-1, le=2**63 - 1, description="the platform topic id"),
        limit: int = Query(10, ge=1, le=100),
    ) -> dict:
        """The post store's search with filters: hybrid (keyword + vector), semantic or keyword."""
        from starlette.concurrency import run_in_threadpool

        from mlds_assets.core.embeddings import ModelUnavailableError
        from mlds_assets.service.store import SearchQuery, search_async

        if platform is not None:
            known(platform)
        # opened at start-up; where it could not be, opening it (which may wait on the store) is not done here
        posts_store = resources.opened() or await run_in_threadpool(store)
        query = SearchQuery(q, mode, platform, entity, sentiment, topic, limit)
        try:
            hits = await search_async(settings, query, posts_store, HIT_COLUMNS, arrow=True)
        except ModelUnavailableError as error:  # keyword search still answers
            raise HTTPException(status_code=503, detail=f"{mode} search unavailable: {error}") from None
        # plain JSON values already: rendered as they are, not walked again by FastAPI's encoder
        return JSONResponse({"query": q, "mode": mode, "hits": _hit_records(hits, HIT_COLUMNS)})

    @app.get("/backlog", tags=["platforms"], dependencies=data)
    def backlog() -> dict:
        """Posts still waiting per platform: for sentiment, for a vector, and complete."""
        from mlds_assets.core.status import store_backlog

        posts_store = store()
        return {"backlog": {name: store_backlog(posts_store, name) for name in sorted(settings.platforms)}}

    return app


def _metrics(settings: Settings, key: list[str], metric: str | None) -> dict:
    table = read_lake_partition(settings.lake_base, key, None)
    if table is None:
        raise HTTPException(status_code=404, detail=f"{'/'.join(key)} has not been materialised yet (mlds report)")
    if metric:
        table = table[table["metric"] == metric]
    level = str(table["processing_level"].iloc[0]) if len(table) else None
    updated = str(table["last_updated"].iloc[0]) if len(table) else None
    return {"scope": key[0], "processing_level": level, "last_updated": updated, "rows": _records(table)}


class ApiExposureError(ValueError):
    """The API would serve data without a key where it should not: the message says what to set."""


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_exposure(settings: Settings, host: str, insecure: bool, env=None) -> list[str]:
    """Refuse an empty key, and a bind beyond loopback without a key unless `insecure`; returns warnings."""
    env = os.environ if env is None else env
    name = settings.api.api_key_env
    key = env.get(name)
    if key is not None and not key.strip():
        raise ApiExposureError(f"{name} is set but empty: set a key, or unset it to serve on loopback without one")
    if key or host in LOOPBACK or host.startswith("127."):
        return []
    if not insecure:
        raise ApiExposureError(
            f"binding to {host} without a key serves every post to the network: set {name}, or pass --insecure"
        )
    return [f"serving on {host} without a key ({name} unset, --insecure): every data route is open"]


def serve(settings: Settings, host: str, port: int, insecure: bool = False) -> None:
    import sys

    import uvicorn

    for warning in check_exposure(settings, host, insecure):
        print(f"mlds api: warning: {warning}", file=sys.stderr)
    if settings.api.workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    # Worker processes import the app by name and build it from the same environment (MLDS_HOME, MLDS_CONFIG,
    # MLDS__ overrides) this process read its settings from.
    uvicorn.run("mlds_assets.api:app_from_environment", factory=True, workers=settings.api.workers,
                host=host, port=port, log_level="warning")  # fmt: skip


def app_from_environment() -> FastAPI:
    """The app of a uvicorn worker process (api.workers > 1): settings read again from the environment."""
    from mlds_assets.settings import load_settings

    return create_app(load_settings())
