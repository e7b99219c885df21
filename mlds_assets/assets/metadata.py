"""Materialisation metadata people want in the UI: counts, coverage, a preview table."""

from __future__ import annotations

import pandas as pd
from dagster import MetadataValue


def preview(frame: pd.DataFrame, columns: list[str], rows: int = 5, width: int = 80) -> MetadataValue:
    shown = frame[[c for c in columns if c in frame.columns]].head(rows).copy()
    for name in shown.columns:
        shown[name] = shown[name].map(lambda v: (str(v)[:width] + "…") if len(str(v)) > width else str(v))
    text = shown.to_markdown(index=False) if len(shown) else "_no rows_"
    return MetadataValue.md(text.replace("\n\n", "\n"))


def counts_table(counts: pd.Series, key: str, value: str) -> MetadataValue:
    if counts.empty:
        return MetadataValue.md("_none_")
    return MetadataValue.md(counts.rename_axis(key).reset_index(name=value).to_markdown(index=False))
