"""Reading the Parquet lake outside the IO manager, and writing it so plain pandas can read it back.

No dagster import: the store rebuild and the CLI read the lake too."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from mlds_assets.core.store_records import canonical_links

MENTIONS_PATH = ["cross_platform", "entity_mentions"]
CANONICAL_PATH = ["cross_platform", "resolved_entities"]


def portable_pandas_metadata(table: pa.Table) -> pa.Table:
    """Record Arrow-backed list columns as plain object columns in the pandas metadata.

    pandas writes `list<item: string>[pyarrow]` there and cannot read it back (pandas 2.x), so anyone
    opening the lake with `pd.read_parquet` would fail; as `object` they get the usual arrays per row.
    """
    meta = json.loads(table.schema.metadata[b"pandas"])
    for column in meta["columns"]:
        if str(column.get("numpy_type", "")).startswith(("list<", "large_list<")):
            column["numpy_type"] = "object"
    return table.replace_schema_metadata({**table.schema.metadata, b"pandas": json.dumps(meta).encode()})


def arrow_lists(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    """List columns (urls, hashtags, entity ids) stay Arrow-backed: no Python list per row on the way in."""
    return pd.ArrowDtype(arrow_type) if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) else None


def read_lake_partition(
    base_path: str, key_path: list[str], partition: str | None, columns: list[str] | None = None
) -> pd.DataFrame | None:
    """An asset partition's stored value (partition None: an unpartitioned asset's), or None when it has
    none yet: for assets that use another asset's output when it exists (the store picks up sentiment once
    scored) without waiting for it."""
    if partition is None:
        path = UPath(base_path).joinpath(*key_path[:-1], f"{key_path[-1]}.parquet")
    else:
        path = UPath(base_path).joinpath(*key_path, f"{partition}.parquet")
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return pq.read_table(handle, columns=columns).to_pandas(types_mapper=arrow_lists)


def read_lake_asset(base_path: str, key_path: list[str], columns: list[str] | None = None) -> pd.DataFrame | None:
    """Every stored partition of an asset, stacked, with its partition key as `batch_id`: for
    cross-platform assets that read whole lanes. None when nothing is stored yet."""
    folder = UPath(base_path).joinpath(*key_path)
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    frames = []
    for path in files:
        with path.open("rb") as handle:
            frame = pq.read_table(handle, columns=columns).to_pandas(types_mapper=arrow_lists)
        frames.append(frame.assign(batch_id=path.stem) if "batch_id" not in frame.columns else frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def resolved_links(base_path: str, post_ids: pd.Series) -> pd.DataFrame | None:
    """Canonical entities resolution linked to these posts beyond the conservative pass, once it has run:
    what the store and the metrics add to a batch's own entities."""
    mentions = read_lake_partition(base_path, MENTIONS_PATH, None, ["post_id", "canonical_id", "link"])
    canonical = read_lake_partition(base_path, CANONICAL_PATH, None, ["entity_id", "primary_name"])
    if mentions is None or canonical is None:
        return None
    return canonical_links(mentions, canonical, post_ids)
