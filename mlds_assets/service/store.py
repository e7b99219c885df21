"""The post store for the faces: opening it and searching it. Imports neither Dagster nor the asset graph for
the embedded LanceDB store, so a keyword search from the command line starts in a second or two."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlds_assets.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa

SEARCH_MODES = ("hybrid", "semantic", "keyword")


def open_store(settings: Settings, long_lived: bool = False):
    """The post store. The embedded LanceDB one opens directly; another backend goes through the resource.
    A `long_lived` handle (the API's) checks for newer commits on every read."""
    if settings.store.backend == "lancedb":
        from datetime import timedelta

        from mlds_assets.store.lancedb_store import LanceDBPostStore

        config = settings.store
        fresh = timedelta(0) if long_lived else None
        store = LanceDBPostStore(settings.store_uri, config.table, config.vector_dim, config.write_batch_rows,
                                 read_consistency_interval=fresh)  # fmt: skip
        store.ensure_collection()
        return store
    from mlds_assets.resources import PostStoreResource  # Weaviate: the resource the runs use, not the graph

    return PostStoreResource.from_settings(settings).get_store()


@dataclass(frozen=True)
class SearchQuery:
    """One search as a user asks it: the words, the mode and the filters."""

    text: str
    mode: str = "hybrid"
    platform: str | None = None
    entity: str | None = None
    sentiment: str | None = None
    topic: int | None = None
    limit: int = 10

    def where(self) -> dict | None:
        where = {"platform": self.platform, "entity": self.entity, "sentiment_label": self.sentiment}
        where = {k: v for k, v in where.items() if v}
        if self.topic is not None:
            where["topic_id"] = int(self.topic)
        return where or None


def search(
    settings: Settings,
    query: str,
    platform=None,
    entity=None,
    sentiment=None,
    limit: int = 10,
    mode: str = "hybrid",
    topic: int | None = None,
    store=None,
):
    """The post store's search with filters, on `store` (the API's) or one opened now. `hybrid` (keyword +
    vector, fused by rank) and `semantic` (vector only) embed the query with the configured model; posts
    not embedded yet are still found by their words in hybrid mode."""
    return run_search(settings, SearchQuery(query, mode, platform, entity, sentiment, topic, limit), store)


def run_search(settings: Settings, query: SearchQuery, store=None):
    store = store or open_store(settings)
    where, limit = query.where(), query.limit
    if query.mode == "keyword":
        return store.keyword_search(query.text, where=where, limit=limit)
    from mlds_assets.core.embeddings import embed_query

    vector = embed_query(settings.embeddings, query.text)  # numpy MiniLM: no torch import for one query
    if query.mode == "semantic":
        return store.vector_search(vector, where=where, limit=limit)
    return store.hybrid_search(query.text, vector, where=where, limit=limit)


async def search_async(
    settings: Settings, query: SearchQuery, store, columns: list[str] | None = None, arrow: bool = False
):
    """`run_search` for a server's event loop (the API's), with the same hits. The embedded LanceDB store is
    searched through its async API (under 20 clients on two cores it halved keyword search's median); the
    query is embedded by the embedding batcher's thread together with concurrent requests' queries, and the
    vector search (a semantic search, a hybrid search's vector leg) goes several to a LanceDB query through
    the store's nearest batcher. A hybrid search's keyword leg runs meanwhile (it needs no vector); the legs
    are fused as the store's `hybrid_search` fuses them. Another backend, or a store whose indexes no search
    has checked yet (an empty one at start-up), goes through `run_search` in a worker thread. `columns`: the
    ones the caller shows; the LanceDB store may read only those (the hits may hold more). `arrow`: the
    LanceDB store's hits as an Arrow table, not pandas (a server that writes JSON from them skips pandas'
    2 ms a request); the fallback's hits are always pandas."""
    import asyncio

    from starlette.concurrency import run_in_threadpool

    from mlds_assets.store.lancedb_store import LanceDBPostStore, fuse_by_rank

    if not (isinstance(store, LanceDBPostStore) and store.searchable):
        return await run_in_threadpool(run_search, settings, query, store)
    where, limit = query.where(), query.limit
    if query.mode == "keyword":
        hits = await store.keyword_search_async(query.text, where, limit, columns)
        return hits if arrow else hits.to_pandas()
    from mlds_assets.service.query_batching import NearestQuery, nearest_batcher, query_batcher

    config, shown = settings.embeddings, tuple(columns) if columns is not None else None

    async def nearest() -> pa.Table:
        vector = await query_batcher(config.model, config.device, config.bf16_on_cpu).ask(query.text)
        return await nearest_batcher(store).ask(NearestQuery(vector, where, limit, shown))

    if query.mode == "semantic":
        hits = (await nearest()).drop_columns(["_rowid"])
    else:  # the keyword leg needs no vector: it runs while the query is embedded
        keyword = store.keyword_search_async(query.text, where, limit, columns, with_row_id=True)
        vector_hits, keyword_hits = await asyncio.gather(nearest(), keyword)
        hits = fuse_by_rank(query.text, vector_hits, keyword_hits, limit)
    return hits if arrow else hits.to_pandas()
