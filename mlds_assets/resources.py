"""Dagster resources: the post store, configured from settings."""

from dagster import ConfigurableResource

from mlds_assets.store import PostStore
from mlds_assets.store.lancedb_store import LanceDBPostStore


class PostStoreResource(ConfigurableResource):
    """The single way assets reach the post store; swap the backend in config, not in code."""

    backend: str = "lancedb"
    uri: str
    table: str = "posts"
    vector_dim: int = 384
    write_batch_rows: int = 50_000

    def get_store(self) -> PostStore:
        if self.backend != "lancedb":
            raise ValueError(f"unknown store backend {self.backend!r}")
        store = LanceDBPostStore(self.uri, self.table, self.vector_dim, self.write_batch_rows)
        store.ensure_collection()
        return store
