"""Parquet lake: one file per asset partition, on a local folder or any fsspec URL (s3://, gs://, ...)."""

from __future__ import annotations

import json
import os
import uuid

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableIOManagerFactory, InputContext, OutputContext, UPathIOManager
from upath import UPath


class ParquetIOManager(UPathIOManager):
    extension = ".parquet"

    def dump_to_path(self, context: OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        table = portable_pandas_metadata(pa.Table.from_pandas(obj, preserve_index=False))
        if path.protocol in ("", "file", "local"):
            # Readers never see a half-written file: write beside it, then rename over it.
            local = str(path.path) if hasattr(path, "path") else str(path)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            tmp = os.path.join(os.path.dirname(local), f".{os.path.basename(local)}.{uuid.uuid4().hex}.tmp")
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, local)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        else:  # object stores publish a PUT atomically
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                pq.write_table(table, handle)
        context.add_output_metadata({"lake_path": str(path)})

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame:
        # `AssetIn(metadata={"columns": [...]})` reads only those columns: downstream assets that need a
        # few columns of a wide frame skip the rest (the raw record, the text, list columns).
        columns = (context.definition_metadata or {}).get("columns")
        with path.open("rb") as handle:
            table = pq.read_table(handle, columns=list(columns) if columns else None)
        return table.to_pandas(types_mapper=_arrow_lists)


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


def _arrow_lists(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    """List columns (urls, hashtags, entity ids) stay Arrow-backed: no Python list per row on the way in."""
    return pd.ArrowDtype(arrow_type) if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) else None


class LakeIOManager(ConfigurableIOManagerFactory):
    """The lake's base path: `<MLDS_HOME>/lake` by default, `lake_path` in global.yaml to move it."""

    base_path: str

    def create_io_manager(self, context) -> ParquetIOManager:
        return ParquetIOManager(base_path=UPath(self.base_path))


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
        return pq.read_table(handle, columns=columns).to_pandas(types_mapper=_arrow_lists)


def read_lake_asset(base_path: str, key_path: list[str], columns: list[str] | None = None) -> pd.DataFrame | None:
    """Every stored partition of an asset, stacked, with its partition key as `batch_id`: for
    cross-platform assets that read whole lanes. None when nothing is stored yet."""
    folder = UPath(base_path).joinpath(*key_path)
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    frames = []
    for path in files:
        with path.open("rb") as handle:
            frame = pq.read_table(handle, columns=columns).to_pandas(types_mapper=_arrow_lists)
        frames.append(frame.assign(batch_id=path.stem) if "batch_id" not in frame.columns else frame)
    return pd.concat(frames, ignore_index=True) if frames else None
