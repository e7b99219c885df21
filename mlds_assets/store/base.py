"""What MLDS needs of a post store, whichever backend holds it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa

# Equality on a field, or membership when the value is a list. The key "entity" matches posts that mention
# any of the given canonical entity ids. Integer fields (topic_id, likes) take ints.
StoreFilter = Mapping[str, str | int | Sequence[str]]

STORE_SCHEMA_FIELDS: list[tuple[str, pa.DataType]] = [
    ("post_id", pa.string()),
    ("platform", pa.string()),
    ("batch_id", pa.string()),
    ("native_id", pa.string()),
    ("author", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("text", pa.string()),
    ("url", pa.string()),
    ("likes", pa.int64()),
    ("comments", pa.int64()),
    ("shares", pa.int64()),
    ("views", pa.int64()),
    ("hashtags", pa.list_(pa.string())),
    ("entities", pa.list_(pa.string())),
    ("entity_names", pa.list_(pa.string())),
    ("sentiment_label", pa.string()),
    ("sentiment_score", pa.float64()),
    ("topic_id", pa.int64()),
    ("processing_status", pa.string()),
    ("ingested_at", pa.timestamp("us", tz="UTC")),
    ("sentiment_processed_at", pa.timestamp("us", tz="UTC")),
    ("semantic_processed_at", pa.timestamp("us", tz="UTC")),
]


def store_schema(vector_dim: int) -> pa.Schema:
    return pa.schema([*STORE_SCHEMA_FIELDS, ("vector", pa.list_(pa.float32(), vector_dim))])


def overlay_updates(current: pd.DataFrame, updates: pd.DataFrame) -> pd.DataFrame:
    """Whole records with `updates`' columns laid over them: backends write whole records, so a partial
    update never leaves one half-changed. Every updated post_id must already exist."""
    missing = set(updates["post_id"]) - set(current["post_id"] if len(current) else [])
    if missing:
        raise KeyError(f"no record for post_id(s) {sorted(missing)[:5]}")
    merged = current.set_index("post_id")
    changes = updates.set_index("post_id")
    for column in changes.columns:
        merged[column] = changes[column].reindex(merged.index)
    return merged.reset_index()


class StoreUnavailableError(RuntimeError):
    """The store cannot be reached at all (a Weaviate that is down): the message names where it was sought."""


class StoreWriteError(RuntimeError):
    """A write that did not complete: names how many rows were written before it failed, and why."""


def retrying(
    call: Callable[[], Any],
    retry_on: tuple[type[BaseException], ...],
    attempts: int = 4,
    first_wait: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """`call()`, retried on `retry_on` with exponential backoff (0.5 s, 1 s, 2 s, ...); the last failure
    is raised. Anything else fails at once: a bad record does not get better by waiting."""
    for attempt in range(attempts):
        try:
            return call()
        except retry_on:
            if attempt == attempts - 1:
                raise
            sleep(first_wait * 2**attempt)
    return None


@runtime_checkable
class PostStore(Protocol):
    def ensure_collection(self) -> None: ...

    def upsert(self, records: pd.DataFrame) -> int:
        """Insert or replace whole records by post_id; returns the rows written."""
        ...

    def update_fields(self, updates: pd.DataFrame) -> int:
        """Set the given columns on existing records (post_id plus the columns to change)."""
        ...

    def fetch(self, where: StoreFilter | None = None, limit: int = 100, offset: int = 0) -> pd.DataFrame: ...

    def count(self, where: StoreFilter | None = None) -> int: ...

    def coverage(self, field: str, where: StoreFilter | None = None) -> float:
        """Share of matching records whose `field` is not null (0.0 when nothing matches)."""
        ...

    def keyword_search(self, query: str, where: StoreFilter | None = None, limit: int = 10) -> pd.DataFrame: ...

    def vector_search(
        self, vector: Sequence[float], where: StoreFilter | None = None, limit: int = 10
    ) -> pd.DataFrame: ...

    def hybrid_search(
        self, query: str, vector: Sequence[float], where: StoreFilter | None = None, limit: int = 10
    ) -> pd.DataFrame:
        """Keyword and vector hits fused into one ranking (`_score`, higher is better): finds posts that
        say it in other words, and still ranks exact matches of rare terms (names, codes) first."""
        ...

    def delete(self, post_ids: Sequence[str]) -> int: ...

    def duplicate_records(self, where: StoreFilter | None = None) -> int:
        """Records beyond one per post_id among the matching ones: 0 unless concurrent writers went wrong."""
        ...

    def optimize(self) -> None:
        """Housekeeping after writes: fold new rows into indexes, prune old versions (a no-op where the
        backend does this itself)."""
        ...

    def read_version(self) -> tuple[str, int] | None:
        """(where the store is, its version as a read sees it now): the version changes with every commit,
        so a reader may keep what it computed until it does. None where the backend has no such number."""
        ...
