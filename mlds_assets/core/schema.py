"""The canonical post schema every platform is mapped onto, and the quarantine schema beside it."""

from __future__ import annotations

import pandas as pd

# column -> (pandas dtype, description). Order is the column order of raw_posts.
POST_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string", "uuid5 of '<platform>:<native_id>' (the same id Weaviate's generate_uuid5 gives)"),
    "platform": ("string", "platform name from its YAML file"),
    "native_id": ("string", "the platform's own id (derived from the row's content when the export has none)"),
    "batch_id": ("string", "the ingested file: the dynamic partition key"),
    "source_file": ("string", "file name as it arrived in the inbox"),
    "source_row": ("int64", "1-based record number in the file"),
    "text": ("string", "post text as exported (several columns joined by a newline)"),
    "author": ("string", "author handle or id"),
    "created_at": ("datetime64[ns, UTC]", "publication time, UTC"),
    "parent_id": ("string", "native id of the post this one replies to"),
    "parent_post_id": ("string", "post_id of the parent, for joins"),
    "url": ("string", "link to the post"),
    "likes": ("Int64", "engagement counts; null where the export has none"),
    "comments": ("Int64", ""),
    "shares": ("Int64", ""),
    "views": ("Int64", ""),
    "labels": ("string", "JSON object {label column: value} of the columns that name entities"),
    "raw_record": ("string", "the original record as JSON, so a mapper fix can re-map without the file"),
    "ingested_at": ("datetime64[ns, UTC]", "when this batch was mapped"),
}
ENGAGEMENT_COLUMNS = ("likes", "comments", "shares", "views")

QUARANTINE_COLUMNS: dict[str, tuple[str, str]] = {
    "platform": ("string", ""),
    "batch_id": ("string", ""),
    "source_file": ("string", ""),
    "source_row": ("int64", "1-based record number in the file"),
    "field": ("string", "the first canonical field that failed"),
    "reason": ("string", "every reason the row failed, '; '-separated"),
    "raw_record": ("string", "the original record as JSON"),
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
