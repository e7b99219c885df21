"""Rebuild the post store from the lake: the store is a projection, so this is always possible.

A rebuild never deletes before it can write. Every batch's records are built and checked against the store
schema first; only then is anything written, by upsert (a post keeps its record until the new one replaces
it); and only after every write succeeded are the records the lake no longer has, and any second copy of a
post, removed. A rebuild that fails part-way leaves at least what was there before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

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


def batches_in_ingest_order(lake: str, platform: str) -> list[str]:
    """Batch ids, earliest ingested first: where two batches carry one post, the later one wins, as it did
    when they were ingested."""
    folder = UPath(lake) / platform / "cleaned_posts"
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    order = []
    for path in files:
        with path.open("rb") as handle:
            ingested = pq.read_table(handle, columns=["ingested_at"]).to_pandas()["ingested_at"]
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
    return pd.Series(_stored_ids_where(store, {"platform": platform}), dtype=object)


def rebuild_platform_report(store: PostStore, lake: str, platform: str) -> RebuildResult:
    batches = batches_in_ingest_order(lake, platform)
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


@dataclass(frozen=True)
class DroppedBatch:
    platform: str
    batch: str
    lake_files: list[str]  # every asset's partition file of the batch, and its checkpoint folders
    landing_files: list[str]  # the landed copy and its sidecar
    store_removed: int  # records of the batch removed from the store
    store_restored: int  # of those, posts another batch also holds, written again from that batch


def drop_batch_data(store: PostStore, lake: str, landing_dir: Path, platform: str, batch: str) -> DroppedBatch:
    """Retire a batch: its lake files (every asset's partition, its checkpoints), its landed file and the
    store records it wrote. A post that another batch of the platform also holds is written again from
    that batch, so the store stays the projection of what the lake keeps."""
    base = UPath(lake) / platform
    lake_files = []
    for folder in sorted(base.iterdir()) if base.exists() else []:
        path = folder / f"{batch}.parquet"
        if path.exists():
            path.unlink()
            lake_files.append(str(path))
    checkpoints = UPath(lake) / "_checkpoints" / platform
    for folder in sorted(checkpoints.glob(f"*/{batch}")) if checkpoints.exists() else []:
        folder.fs.rm(folder.path, recursive=True)
        lake_files.append(str(folder))
    landing_files = []
    sidecar = landing_dir / platform / f"{batch}.landed.json"
    if sidecar.is_file():
        landed = sidecar.with_name(json.loads(sidecar.read_text())["landed_name"])
        for path in (sidecar, landed):  # the sidecar first: a partition exists only while it does
            if path.is_file():
                path.unlink()
                landing_files.append(str(path))
    removed = _stored_ids_where(store, {"platform": platform, "batch_id": batch})
    store.delete(sorted(set(removed)))
    restored: set[str] = set()
    gone = set(removed)
    for other in batches_in_ingest_order(lake, platform) if gone else []:  # a later batch's record wins
        records = batch_store_records(lake, platform, other)
        records = records[records["post_id"].isin(gone)].reset_index(drop=True)
        if len(records):
            store.upsert(records)
            restored |= set(records["post_id"])
    return DroppedBatch(platform, batch, lake_files, landing_files, len(removed), len(restored))


def _stored_ids_where(store: PostStore, where: dict) -> list[str]:
    total = store.count(where)
    pages = [store.fetch(where, limit=_PAGE, offset=start)["post_id"] for start in range(0, total, _PAGE)]
    return pd.concat(pages, ignore_index=True).tolist() if pages else []


def record_drop(log: Path, dropped: DroppedBatch, partition_deleted: bool) -> None:
    """One JSON line per retired batch in `<home>/batch_drops.log`: what was removed, and when."""
    entry = {"at": datetime.now(timezone.utc).isoformat(), **dropped.__dict__, "partition_deleted": partition_deleted}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")
