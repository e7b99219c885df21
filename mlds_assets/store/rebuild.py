"""Rebuild the post store from the lake: the store is a projection, so this is always possible.

A rebuild never deletes before it can write. Every batch's records are built and checked against the store
schema first; only then is anything written, by upsert (a post keeps its record until the new one replaces
it); and only after every write succeeded are the records the lake no longer has, and any second copy of a
post, removed. A rebuild that fails part-way leaves at least what was there before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from mlds_assets.lake import batch_store_records
from mlds_assets.store.base import STORE_SCHEMA_FIELDS, PostStore

_CHECKED = pa.schema(STORE_SCHEMA_FIELDS)  # every field but the vector, whose width is the store's own
_PAGE = 10_000


class RebuildError(RuntimeError):
    """A batch of the lake cannot become store records: nothing was written or deleted."""


@dataclass(frozen=True)
class RebuildResult:
    posts: int  # distinct posts of the platform in the store afterwards
    written: int  # records written
    removed: int  # records removed: posts the lake no longer has, and second copies of a post


def _batches_in_ingest_order(lake: str, platform: str) -> list[str]:
    """Batch ids, earliest ingested first: where two batches carry one post, the later one wins, as it did
    when they were ingested."""
    files = sorted((Path(lake) / platform / "cleaned_posts").glob("*.parquet"))
    order = []
    for path in files:
        ingested = pd.read_parquet(path, columns=["ingested_at"])["ingested_at"]
        order.append((ingested.max() if len(ingested) else pd.Timestamp.min.tz_localize("UTC"), path.stem))
    return [batch for _, batch in sorted(order)]


def _checked_records(lake: str, platform: str, batch: str) -> pd.DataFrame:
    try:
        records = batch_store_records(lake, platform, batch)
        fields = [f for f in _CHECKED if f.name in records.columns]
        pa.Table.from_pandas(records[[f.name for f in fields]], schema=pa.schema(fields), preserve_index=False)
    except Exception as exc:
        raise RebuildError(
            f"{platform}: batch {batch} cannot become store records ({type(exc).__name__}: {exc}); "
            "nothing was written or deleted"
        ) from exc
    return records


def _stored_ids(store: PostStore, platform: str) -> pd.Series:
    total = store.count({"platform": platform})
    where = {"platform": platform}
    pages = [store.fetch(where, limit=_PAGE, offset=start)["post_id"] for start in range(0, total, _PAGE)]
    return pd.concat(pages, ignore_index=True) if pages else pd.Series([], dtype=object)


def rebuild_platform_report(store: PostStore, lake: str, platform: str) -> RebuildResult:
    batches = _batches_in_ingest_order(lake, platform)
    winner: dict[str, str] = {}  # post_id -> the batch whose record the store gets
    for batch in batches:  # first pass: every batch can be written, or nothing is touched
        for post in _checked_records(lake, platform, batch)["post_id"]:
            winner[post] = batch
    written = 0
    for batch in batches:
        records = batch_store_records(lake, platform, batch)
        records = records[records["post_id"].map(winner).eq(batch)].reset_index(drop=True)
        if len(records):
            written += store.upsert(records)
    stored = _stored_ids(store, platform)
    stale = sorted(set(stored) - set(winner))
    doubled = stored[stored.duplicated()].unique().tolist()
    removed = store.delete(stale) if stale else 0
    if doubled:  # a second copy (two writers at once) goes, then the post is written once again
        removed += store.delete(doubled) - len(doubled)
        again = set(doubled)
        for batch in sorted({winner[p] for p in doubled}, key=batches.index):
            records = batch_store_records(lake, platform, batch)
            records = records[records["post_id"].isin(again) & records["post_id"].map(winner).eq(batch)]
            store.upsert(records.reset_index(drop=True))
    return RebuildResult(posts=store.count({"platform": platform}), written=written, removed=removed)


def rebuild_platform(store: PostStore, lake: str, platform: str) -> int:
    """Write every batch of the platform to the store again; returns the distinct posts it then holds."""
    return rebuild_platform_report(store, lake, platform).posts
