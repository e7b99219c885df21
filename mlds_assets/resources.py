"""Dagster resources: the post store, configured from settings. The Weaviate API key is a `dagster.EnvVar`:
the UI and the run config show the variable's name, never the key."""

from __future__ import annotations

import os

from dagster import Config, ConfigurableResource, EnvVar

from mlds_assets.settings import Settings
from mlds_assets.store import PostStore
from mlds_assets.store.lancedb_store import LanceDBPostStore
from mlds_assets.store.weaviate_store import WeaviateConnection, WeaviatePostStore


class WeaviateConfig(Config):
    """store.weaviate from global.yaml, with the API key as a secret (an EnvVar) instead of a variable's name."""

    mode: str = "local"
    host: str = "localhost"
    port: int = 8080
    grpc_port: int = 50051
    secure: bool = False
    cluster_url: str | None = None
    api_key: str | None = None  # EnvVar("WEAVIATE_API_KEY"), or None for a Weaviate without authentication
    collections: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults)
    batch_size: int = 200


class PostStoreResource(ConfigurableResource):
    """The single way assets reach the post store; swap the backend in config, not in code."""

    backend: str = "lancedb"
    uri: str = ""
    table: str = "posts"
    vector_dim: int = 384
    write_batch_rows: int = 50_000
    weaviate: WeaviateConfig = WeaviateConfig()

    @classmethod
    def from_settings(cls, settings: Settings) -> PostStoreResource:
        store = settings.store
        weaviate = store.weaviate.model_dump(exclude={"api_key_env"})
        return cls(
            backend=store.backend,
            uri=settings.store_uri,
            table=store.table,
            vector_dim=store.vector_dim,
            write_batch_rows=store.write_batch_rows,
            weaviate=WeaviateConfig(**weaviate, api_key=weaviate_key(settings)),
        )

    def get_store(self) -> PostStore:
        if self.backend == "lancedb":
            store = LanceDBPostStore(self.uri, self.table, self.vector_dim, self.write_batch_rows)
        elif self.backend == "weaviate":
            config = self.weaviate
            key = config.api_key
            connection = WeaviateConnection(
                mode=config.mode,
                host=config.host,
                port=config.port,
                grpc_port=config.grpc_port,
                secure=config.secure,
                cluster_url=config.cluster_url,
                api_key_env=None,  # the key comes from this resource (EnvVar), not from a variable's name
                api_key=key.get_value() if isinstance(key, EnvVar) else key,  # unresolved outside a run
                collections=dict(config.collections),
            )
            store = WeaviatePostStore(connection, vector_dim=self.vector_dim, batch_size=config.batch_size)
        else:
            raise ValueError(f"unknown store backend {self.backend!r}")
        store.ensure_collection()
        return store


def weaviate_key(settings: Settings) -> EnvVar | None:
    """The Weaviate key as EnvVar(store.weaviate.api_key_env) (the variable's name stays configurable): always
    for a Weaviate Cloud cluster, which needs one (an unset variable then fails the run, naming it); for a
    local or custom Weaviate only where the variable is set (one without authentication needs none)."""
    weaviate, name = settings.store.weaviate, settings.store.weaviate.api_key_env
    if settings.store.backend != "weaviate" or not name:
        return None
    return EnvVar(name) if weaviate.mode == "cloud" or name in os.environ else None
