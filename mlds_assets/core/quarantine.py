"""What an ingest quarantined, summarised for people: the most common reasons, with the offending values
folded together ("created_at: '...' does not match ..." once, not once per row)."""

from __future__ import annotations

import re

import pandas as pd

_QUOTED = re.compile(r"'[^']*'")
_ROW_NUMBER = re.compile(r"\brow \d+")


def reason_kind(reason: str) -> str:
    """A reason without the value it quotes first (the offending one): rows that failed the same way share it."""
    return _ROW_NUMBER.sub("row N", _QUOTED.sub("'…'", str(reason), count=1))


def top_reasons(quarantine: pd.DataFrame, limit: int = 5) -> list[dict]:
    """The `limit` most common reasons (rows, and one reason as written, for its example value)."""
    if quarantine is None or quarantine.empty or "reason" not in quarantine:
        return []
    reasons = quarantine["reason"].fillna("").astype(str)
    kinds = reasons.map(reason_kind)
    counts = kinds.value_counts().head(limit)
    examples = reasons.groupby(kinds).first()
    return [{"reason": kind, "rows": int(rows), "example": examples[kind]} for kind, rows in counts.items()]


def quarantine_share(rows_in: int, quarantined: int) -> float:
    return quarantined / rows_in if rows_in else 0.0
