"""The post store: the searchable projection of the lake. One protocol, several backends.

Nothing here imports dagster. The store is never the source of truth: every record can be rebuilt from the
Parquet assets, so a backend may be dropped and refilled at any time.
"""

from mlds_assets.store.base import STORE_SCHEMA_FIELDS, PostStore, StoreFilter, StoreWriteError, store_schema

__all__ = ["STORE_SCHEMA_FIELDS", "PostStore", "StoreFilter", "StoreWriteError", "store_schema"]
