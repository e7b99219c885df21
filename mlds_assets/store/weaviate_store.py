"""The production post store: Weaviate (weaviate-client v4), self-provided vectors, one collection per platform.

Object ids are `generate_uuid5(f"{platform}:{native_id}")`, which is exactly MLDS's post_id, so an upsert
is a batch insert with a known uuid (Weaviate replaces the object). Every `failed_objects` entry of a batch
is raised as a StoreWriteError, never logged and dropped. Connection errors are retried with backoff.
Collections are per platform (named from config, e.g. FacebookPost); queries without a platform filter go
to every collection and merge, so cross-platform search works without tenants.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlds_assets.store.base import (
    STORE_SCHEMA_FIELDS,
    StoreFilter,
    StoreUnavailableError,
    StoreWriteError,
    overlay_updates,
    retrying,
)

_TEXT_ARRAYS = {"hashtags", "entities", "entity_names"}
_DATES = {"created_at", "ingested_at", "sentiment_processed_at", "semantic_processed_at"}
_INTS = {"likes", "comments", "shares", "views", "topic_id"}
_NUMBERS = {"sentiment_score"}


@dataclass(frozen=True)
class WeaviateConnection:
    """How to reach Weaviate. The API key is read from the environment variable named here, never stored."""

    mode: str = "local"  # local | custom | cloud | embedded
    host: str = "localhost"
    port: int = 8080
    grpc_port: int = 50051
    secure: bool = False
    cluster_url: str | None = None
    api_key_env: str | None = "WEAVIATE_API_KEY"
    collections: dict[str, str] = field(default_factory=dict)  # platform -> collection name
    api_key: str | None = None  # the key itself (the Dagster resource's EnvVar); wins over api_key_env

    def __repr__(self) -> str:  # never print a secret, not even by accident
        return f"WeaviateConnection(mode={self.mode!r}, host={self.host!r}, port={self.port})"

    def collection_for(self, platform: str) -> str:
        return self.collections.get(platform) or "".join(p.title() for p in platform.split("_")) + "Post"

    def connect(self):
        import weaviate
        from weaviate.classes.init import Auth

        key = self.api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None)
        auth = Auth.api_key(key) if key else None
        if self.mode == "local":
            return weaviate.connect_to_local(
                host=self.host, port=self.port, grpc_port=self.grpc_port, auth_credentials=auth
            )
        if self.mode == "custom":
            return weaviate.connect_to_custom(
                http_host=self.host, http_port=self.port, http_secure=self.secure,
                grpc_host=self.host, grpc_port=self.grpc_port, grpc_secure=self.secure, auth_credentials=auth,
            )  # fmt: skip
        if self.mode == "cloud":
            return weaviate.connect_to_weaviate_cloud(cluster_url=self.cluster_url, auth_credentials=auth)
        if self.mode == "embedded":
            return weaviate.connect_to_embedded()
        raise ValueError(f"unknown Weaviate connection mode {self.mode!r}")


def weaviate_properties() -> list[Any]:
    """The collection schema: every store field; platform and processing_status filterable."""
    from weaviate.classes.config import DataType, Property, Tokenization

    types = {
        **{name: DataType.TEXT_ARRAY for name in _TEXT_ARRAYS},
        **{name: DataType.DATE for name in _DATES},
        **{name: DataType.INT for name in _INTS},
        **{name: DataType.NUMBER for name in _NUMBERS},
    }
    keyword = {"post_id", "platform", "batch_id", "native_id", "processing_status", "sentiment_label", "entities"}
    return [
        Property(
            name=name,
            data_type=types.get(name, DataType.TEXT),
            index_filterable=True,
            index_searchable=name in ("text", "author"),
            tokenization=Tokenization.FIELD if name in keyword else None,
        )
        for name, _ in STORE_SCHEMA_FIELDS
    ]


def weaviate_filter(where: StoreFilter | None):
    from weaviate.classes.query import Filter

    if not where:
        return None
    parts = []
    for name, value in where.items():
        values = [value] if isinstance(value, str | int) else list(value)
        if name == "entity":
            parts.append(Filter.by_property("entities").contains_any(values))
        elif len(values) == 1:
            parts.append(Filter.by_property(name).equal(values[0]))
        else:
            parts.append(Filter.by_property(name).contains_any(values))
    return Filter.all_of(parts) if len(parts) > 1 else parts[0]


def with_retries(call: Callable[[], Any], attempts: int = 4, first_wait: float = 0.5, sleep=time.sleep) -> Any:
    """Retry connection errors with exponential backoff; anything else fails at once."""
    from weaviate.exceptions import WeaviateConnectionError

    return retrying(call, (WeaviateConnectionError, ConnectionError), attempts, first_wait, sleep)


def _properties(record: dict) -> dict:
    props = {}
    for name, value in record.items():
        if name == "vector" or value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
            continue
        if name in _DATES:
            value = pd.Timestamp(value).isoformat()
        elif name in _TEXT_ARRAYS:
            value = [str(v) for v in value]
        elif name in _INTS:
            value = int(value)
        props[name] = value
    return props


class WeaviatePostStore:
    def __init__(self, connection: WeaviateConnection, client=None, vector_dim: int = 384, batch_size: int = 200):
        self.connection, self.vector_dim, self.batch_size = connection, vector_dim, batch_size
        self._client = client  # tests pass a fake; production connects lazily
        self._platforms: set[str] = set(connection.collections)

    @property
    def client(self):
        if self._client is None:
            from weaviate.exceptions import WeaviateConnectionError

            try:
                self._client = with_retries(self.connection.connect)
            except (WeaviateConnectionError, ConnectionError) as exc:
                where = self.connection.cluster_url or f"{self.connection.host}:{self.connection.port}"
                raise StoreUnavailableError(
                    f"Weaviate at {where} ({self.connection.mode} mode, config store.weaviate) is unreachable: "
                    f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
                ) from exc
        return self._client

    def _collection(self, platform: str):
        return self.client.collections.get(self.connection.collection_for(platform))

    def _collections(self, where: StoreFilter | None) -> Iterable[tuple[str, Any]]:
        platform = (where or {}).get("platform")
        platforms = [platform] if isinstance(platform, str) else list(platform or sorted(self._platforms))
        return [(p, self._collection(p)) for p in platforms]

    def ensure_collection(self, platforms: Iterable[str] = ()) -> None:
        from weaviate.classes.config import Configure

        self._platforms |= set(platforms)
        for platform in sorted(self._platforms):
            name = self.connection.collection_for(platform)
            if not self.client.collections.exists(name):
                self.client.collections.create(
                    name,
                    properties=weaviate_properties(),
                    vector_config=Configure.Vectors.self_provided(),
                    # coverage() asks "is this field set?": Weaviate answers IsNull filters only with this on
                    inverted_index_config=Configure.inverted_index(index_null_state=True),
                )

    def upsert(self, records: pd.DataFrame) -> int:
        written = 0
        for platform, rows in records.groupby("platform", sort=True):
            self.ensure_collection([platform])
            collection = self._collection(platform)
            with collection.batch.fixed_size(batch_size=self.batch_size) as batch:
                for record in rows.to_dict("records"):
                    vector = record.get("vector")
                    batch.add_object(
                        properties=_properties(record),
                        uuid=record["post_id"],  # = generate_uuid5(f"{platform}:{native_id}")
                        vector=list(vector) if vector is not None and len(vector) else None,
                    )
            failed = collection.batch.failed_objects
            if failed:
                examples = "; ".join(f"{f.object_.uuid}: {f.message}" for f in failed[:3])
                raise StoreWriteError(
                    f"Weaviate {self.connection.collection_for(platform)}: {len(failed)} of {len(rows)} objects "
                    f"failed ({examples})"
                )
            written += len(rows)
        return written

    def update_fields(self, updates: pd.DataFrame) -> int:
        current = self.fetch({"post_id": updates["post_id"].tolist()}, limit=len(updates) + 1)
        return self.upsert(overlay_updates(current, updates))

    def fetch(self, where: StoreFilter | None = None, limit: int = 100, offset: int = 0) -> pd.DataFrame:
        rows = []
        for _, collection in self._collections(where):
            response = with_retries(
                lambda c=collection: c.query.fetch_objects(
                    filters=weaviate_filter(where), limit=limit + offset, include_vector=True
                )
            )
            rows += [{**o.properties, "vector": (o.vector or {}).get("default")} for o in response.objects]
        frame = pd.DataFrame(rows)
        return frame.sort_values("post_id").iloc[offset : offset + limit].reset_index(drop=True) if rows else frame

    def duplicate_records(self, where: StoreFilter | None = None) -> int:
        """Always 0: the object id is the post_id, so Weaviate holds one object per post by construction."""
        return 0

    def count(self, where: StoreFilter | None = None) -> int:
        return sum(
            with_retries(lambda c=c: c.aggregate.over_all(filters=weaviate_filter(where), total_count=True)).total_count
            for _, c in self._collections(where)
        )

    def coverage(self, field: str, where: StoreFilter | None = None) -> float:
        from weaviate.classes.query import Filter

        total = self.count(where)
        if not total:
            return 0.0
        present = Filter.by_property(field).is_none(False)
        base = weaviate_filter(where)
        filters = Filter.all_of([base, present]) if base is not None else present
        covered = sum(
            c.aggregate.over_all(filters=filters, total_count=True).total_count for _, c in self._collections(where)
        )
        return covered / total

    def _merge_hits(self, responses: list, limit: int) -> pd.DataFrame:
        rows = [
            {
                **o.properties,
                "_score": o.metadata.score if o.metadata.score is not None else -(o.metadata.distance or 0),
            }
            for response in responses
            for o in response.objects
        ]
        frame = pd.DataFrame(rows)
        return frame.sort_values("_score", ascending=False).head(limit).reset_index(drop=True) if rows else frame

    def keyword_search(self, query: str, where: StoreFilter | None = None, limit: int = 10) -> pd.DataFrame:
        from weaviate.classes.query import MetadataQuery

        responses = [
            with_retries(
                lambda c=c: c.query.bm25(
                    query=query, filters=weaviate_filter(where), limit=limit, return_metadata=MetadataQuery(score=True)
                )
            )
            for _, c in self._collections(where)
        ]
        return self._merge_hits(responses, limit)

    def vector_search(self, vector: Sequence[float], where: StoreFilter | None = None, limit: int = 10) -> pd.DataFrame:
        from weaviate.classes.query import MetadataQuery

        if len(vector) != self.vector_dim:
            raise ValueError(f"vector has {len(vector)} dimensions; the store has {self.vector_dim}")
        responses = [
            with_retries(
                lambda c=c: c.query.near_vector(
                    near_vector=list(vector),
                    filters=weaviate_filter(where),
                    limit=limit,
                    return_metadata=MetadataQuery(distance=True),
                )
            )
            for _, c in self._collections(where)
        ]
        return self._merge_hits(responses, limit)

    def hybrid_search(
        self, query: str, vector: Sequence[float], where: StoreFilter | None = None, limit: int = 10
    ) -> pd.DataFrame:
        """Weaviate's hybrid query with our own vector (collections have no vectorizer): BM25 and vector
        scores fused by relative score, equal weights."""
        from weaviate.classes.query import MetadataQuery

        if len(vector) != self.vector_dim:
            raise ValueError(f"vector has {len(vector)} dimensions; the store has {self.vector_dim}")
        responses = [
            with_retries(
                lambda c=c: c.query.hybrid(
                    query=query,
                    vector=list(vector),
                    alpha=0.5,
                    filters=weaviate_filter(where),
                    limit=limit,
                    return_metadata=MetadataQuery(score=True),
                )
            )
            for _, c in self._collections(where)
        ]
        return self._merge_hits(responses, limit)

    def optimize(self) -> None:
        """Weaviate maintains its indexes as objects arrive: nothing to do."""

    def read_version(self) -> None:
        """Weaviate has no commit number: readers compute again every time."""
        return None

    def delete(self, post_ids: Sequence[str]) -> int:
        from weaviate.classes.query import Filter

        deleted = 0
        for _, collection in self._collections(None):
            result = collection.data.delete_many(where=Filter.by_id().contains_any(list(post_ids)))
            deleted += result.successful
        return deleted
