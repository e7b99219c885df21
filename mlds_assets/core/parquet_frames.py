"""DataFrames to and from Parquet so that list and vector columns stay Arrow-backed on the way in, and
plain `pd.read_parquet` can still read every file MLDS writes."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa

from mlds_assets.core.schema import TEXT

_LIST_TYPE_PREFIXES = ("list<", "large_list<", "fixed_size_list<")


def portable_pandas_metadata(table: pa.Table) -> pa.Table:
    """Record Arrow-backed list columns as plain object columns in the pandas metadata.

    pandas writes `list<item: string>[pyarrow]` there and cannot read it back (pandas 2.x), so anyone
    opening the lake with `pd.read_parquet` would fail; as `object` they get the usual arrays per row.
    """
    if not table.schema.metadata or b"pandas" not in table.schema.metadata:
        return table
    meta = json.loads(table.schema.metadata[b"pandas"])
    for column in meta["columns"]:
        if str(column.get("numpy_type", "")).startswith(_LIST_TYPE_PREFIXES):
            column["numpy_type"] = "object"
    return table.replace_schema_metadata({**table.schema.metadata, b"pandas": json.dumps(meta).encode()})


def frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    return portable_pandas_metadata(pa.Table.from_pandas(frame, preserve_index=False))


def arrow_lists(arrow_type: pa.DataType) -> pd.ArrowDtype | pd.StringDtype | None:
    """List columns (urls, hashtags, entity ids), vectors and text stay Arrow-backed: no Python object per
    row, which at a million posts is the difference between gigabytes of small strings and one buffer."""
    is_list = pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
    if is_list or pa.types.is_fixed_size_list(arrow_type):
        return pd.ArrowDtype(arrow_type)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return TEXT
    return None


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=arrow_lists)
