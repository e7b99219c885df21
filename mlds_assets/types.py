"""Dagster types that enforce the canonical schemas on asset outputs (dagster-pandas)."""

from __future__ import annotations

from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type

from mlds_assets.core.schema import POST_COLUMNS, QUARANTINE_COLUMNS


def _columns(schema: dict[str, tuple[str, str]], required: set[str]) -> list[PandasColumn]:
    columns = []
    for name in schema:
        if name in required:
            columns.append(PandasColumn.exists(name, non_nullable=True, unique=name == "post_id"))
        else:
            columns.append(PandasColumn.exists(name))
    return columns


CanonicalPosts = create_dagster_pandas_dataframe_type(
    name="CanonicalPosts",
    description="Posts mapped onto the canonical schema (see the README); post_id unique and non-null.",
    columns=_columns(POST_COLUMNS, {"post_id", "platform", "native_id", "batch_id", "source_row", "ingested_at"}),
)

QuarantineRows = create_dagster_pandas_dataframe_type(
    name="QuarantineRows",
    description="Rows that failed validation, with their raw record and every reason.",
    columns=_columns(QUARANTINE_COLUMNS, {"source_row", "reason", "raw_record"}),
)
