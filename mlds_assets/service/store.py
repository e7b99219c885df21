"""The post store for the faces: opening it and searching it. Imports neither Dagster nor the asset graph for
the embedded LanceDB store, so a keyword search from the command line starts in a second or two."""

from __future__ import annotations

from mlds_assets.settings import Settings

SEARCH_MODES = ("hybrid", "semantic", "keyword")


def open_store(settings: Settings):
    """The post store. The embedded LanceDB one opens directly; another backend goes through the resource."""
    if settings.store.backend == "lancedb":
        from mlds_assets.store.lancedb_store import LanceDBPostStore

        config = settings.store
        store = LanceDBPostStore(settings.store_uri, config.table, config.vector_dim, config.write_batch_rows)
        store.ensure_collection()
        return store
    from mlds_assets.definitions import post_store_resource

    return post_store_resource(settings).get_store()


def search(
    settings: Settings,
    query: str,
    platform=None,
    entity=None,
    sentiment=None,
    limit: int = 10,
    mode: str = "hybrid",
    topic: int | None = None,
):
    """The post store's search with filters. `hybrid` (keyword + vector, fused by rank) and `semantic`
    (vector only) embed the query with the configured model; posts not embedded yet are still found by
    their words in hybrid mode."""
    where = {k: v for k, v in {"platform": platform, "entity": entity, "sentiment_label": sentiment}.items() if v}
    if topic is not None:
        where["topic_id"] = int(topic)
    store = open_store(settings)
    if mode == "keyword":
        return store.keyword_search(query, where=where or None, limit=limit)
    from mlds_assets.core.embeddings import embed, shared_encoder

    config = settings.embeddings
    vector = embed(shared_encoder(config.model, config.device), [query], 1, config.bf16_on_cpu)[0].tolist()
    if mode == "semantic":
        return store.vector_search(vector, where=where or None, limit=limit)
    return store.hybrid_search(query, vector, where=where or None, limit=limit)
