"""The post store: the searchable projection of the lake. One protocol, several backends.

Nothing here imports dagster. The store is never the source of truth: every record can be rebuilt from the
Parquet assets, so a backend may be dropped and refilled at any time.
"""

from mlds_assets.store.base import STORE_SCHEMA_FIELDS, PostStore, StoreFilter, StoreWriteError, store_schema
from mlds_assets.store.deferred_imports import REST_CLIENT, defer_package_init

defer_package_init(REST_CLIENT)  # before any backend imports lancedb: see deferred_imports

__all__ = ["STORE_SCHEMA_FIELDS", "PostStore", "StoreFilter", "StoreWriteError", "store_schema"]
