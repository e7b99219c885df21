"""The post store for the faces: opening it and searching it. Imports neither Dagster nor the asset graph for
the embedded LanceDB store, so a keyword search from the command line starts in a second or two."""

from __future__ import annotations

from mlds_assets.settings import Settings

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
    where = {k: v for k, v in {"platform": platform, "entity": entity, "sentiment_label": sentiment}.items() if v}
    if topic is not None:
        where["topic_id"] = int(topic)
    store = store or open_store(settings)
    if mode == "keyword":
        return store.keyword_search(query, where=where or None, limit=limit)
    from mlds_assets.core.embeddings import embed_query

    vector = embed_query(settings.embeddings, query)  # numpy MiniLM: no torch import for one query
    if mode == "semantic":
        return store.vector_search(vector, where=where or None, limit=limit)
    return store.hybrid_search(query, vector, where=where or None, limit=limit)


async def search_async(
    settings: Settings,
    query: str,
    platform=None,
    entity=None,
    sentiment=None,
    limit: int = 10,
    mode: str = "hybrid",
    topic: int | None = None,
    store=None,
    columns: list[str] | None = None,
):
    """`search` for a server's event loop (the API's): the query is embedded in a worker thread, and the
    embedded LanceDB store is searched through its async API (under 20 clients on two cores it halved
    keyword search's median). Another backend, or a store whose indexes no search has checked yet (an
    empty one at start-up), goes through `search` in a worker thread. `columns`: the ones the caller
    shows; the LanceDB store may read only those (the hits may hold more)."""
    from starlette.concurrency import run_in_threadpool

    from mlds_assets.store.lancedb_store import LanceDBPostStore

    if not (isinstance(store, LanceDBPostStore) and store.searchable):
        return await run_in_threadpool(search, settings, query, platform, entity, sentiment, limit, mode, topic, store)
    where = {k: v for k, v in {"platform": platform, "entity": entity, "sentiment_label": sentiment}.items() if v}
    if topic is not None:
        where["topic_id"] = int(topic)
    vector = None
    if mode != "keyword":
        from mlds_assets.core.embeddings import embed_query

        vector = await run_in_threadpool(embed_query, settings.embeddings, query)
    return await store.search_async(mode, query, vector, where or None, limit, columns)
