"""The canonical post schema every platform is mapped onto, and the quarantine schema beside it."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

# Text columns are Arrow-backed: one buffer per column rather than a Python object per cell, which makes
# string work vectorised and the Parquet write a copy rather than a conversion.
TEXT = pd.StringDtype("pyarrow")


def text_series(values: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    """Arrow text as a TEXT column, sharing its buffers: no Python string per value."""
    chunked = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    if not pa.types.is_large_string(chunked.type):  # string, or null for an empty or all-null result
        chunked = chunked.cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(chunked), index=index)


def arrow_text(column: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow: the buffers themselves for TEXT columns, a conversion for any other."""
    if column.dtype == TEXT:
        return pa.array(column)
    return pa.array(column.astype(object).where(column.notna(), None).tolist(), pa.string())


# column -> (pandas dtype, description). Order is the column order of raw_posts.
POST_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string[pyarrow]", "uuid5 of '<platform>:<native_id>' (the same id Weaviate's generate_uuid5 gives)"),
    "platform": ("string[pyarrow]", "platform name from its YAML file"),
    "native_id": ("string[pyarrow]", "the platform's own id (derived from the row's content when the export has none)"),
    "batch_id": ("string[pyarrow]", "the ingested file: the dynamic partition key"),
    "source_file": ("string[pyarrow]", "file name as it arrived in the inbox"),
    "source_row": ("int64", "1-based record number in the file"),
    "text": ("string[pyarrow]", "post text as exported (several columns joined by a newline)"),
    "author": ("string[pyarrow]", "author handle or id"),
    "created_at": ("datetime64[ns, UTC]", "publication time, UTC"),
    "parent_id": ("string[pyarrow]", "native id of the post this one replies to"),
    "parent_post_id": ("string[pyarrow]", "post_id of the parent, for joins"),
    "url": ("string[pyarrow]", "link to the post"),
    "likes": ("Int64", "engagement counts; null where the export has none"),
    "comments": ("Int64", ""),
    "shares": ("Int64", ""),
    "views": ("Int64", ""),
    "labels": ("string[pyarrow]", "JSON object {label column: value} of the columns that name entities"),
    "raw_record": ("string[pyarrow]", "the original record as JSON, so a mapper fix can re-map without the file"),
    "ingested_at": ("datetime64[ns, UTC]", "when this batch was mapped"),
}
ENGAGEMENT_COLUMNS = ("likes", "comments", "shares", "views")

QUARANTINE_COLUMNS: dict[str, tuple[str, str]] = {
    "platform": ("string[pyarrow]", ""),
    "batch_id": ("string[pyarrow]", ""),
    "source_file": ("string[pyarrow]", ""),
    "source_row": ("int64", "1-based record number in the file"),
    "field": ("string[pyarrow]", "the first canonical field that failed"),
    "reason": ("string[pyarrow]", "every reason the row failed, '; '-separated"),
    "raw_record": ("string[pyarrow]", "the original record as JSON"),
    "quarantined_at": ("datetime64[ns, UTC]", ""),
}


def conform(df: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Select and type the schema's columns in order; a missing column is an error, not a silent null."""
    missing = [name for name in columns if name not in df.columns]
    if missing:
        raise KeyError(f"frame lacks schema columns {missing}")
    return df[list(columns)].astype({name: dtype for name, (dtype, _) in columns.items()})


def schema_markdown(columns: dict[str, tuple[str, str]]) -> str:
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {dtype} | {doc} |" for name, (dtype, doc) in columns.items()]
    return "\n".join(lines)
