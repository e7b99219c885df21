"""Dagster resources: the post store, configured from settings."""

from dagster import ConfigurableResource

from mlds_assets.store import PostStore
from mlds_assets.store.lancedb_store import LanceDBPostStore
from mlds_assets.store.weaviate_store import WeaviateConnection, WeaviatePostStore


class PostStoreResource(ConfigurableResource):
    """The single way assets reach the post store; swap the backend in config, not in code."""

    backend: str = "lancedb"
    uri: str = ""
    table: str = "posts"
    vector_dim: int = 384
    write_batch_rows: int = 50_000
    weaviate_mode: str = "local"
    weaviate_host: str = "localhost"
    weaviate_port: int = 8080
    weaviate_grpc_port: int = 50051
    weaviate_secure: bool = False
    weaviate_cluster_url: str | None = None
    weaviate_api_key_env: str | None = "WEAVIATE_API_KEY"
    weaviate_collections: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults)
    weaviate_batch_size: int = 200

    def get_store(self) -> PostStore:
        if self.backend == "lancedb":
            store = LanceDBPostStore(self.uri, self.table, self.vector_dim, self.write_batch_rows)
        elif self.backend == "weaviate":
            connection = WeaviateConnection(
                mode=self.weaviate_mode,
                host=self.weaviate_host,
                port=self.weaviate_port,
                grpc_port=self.weaviate_grpc_port,
                secure=self.weaviate_secure,
                cluster_url=self.weaviate_cluster_url,
                api_key_env=self.weaviate_api_key_env,
                collections=dict(self.weaviate_collections),
            )
            store = WeaviatePostStore(connection, vector_dim=self.vector_dim, batch_size=self.weaviate_batch_size)
        else:
            raise ValueError(f"unknown store backend {self.backend!r}")
        store.ensure_collection()
        return store
