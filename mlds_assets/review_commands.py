"""`mlds review list|decide`: the entity review queue, decided as code (config/entity_decisions.yaml)."""

from __future__ import annotations

import pandas as pd
from upath import UPath

from mlds_assets.core.resolution import Decision, record_decision
from mlds_assets.settings import Settings


class ReviewError(ValueError):
    """A decision that cannot be recorded: names the conflict or entity at fault."""


def _table(settings: Settings, name: str) -> pd.DataFrame:
    path = UPath(settings.lake_base) / "cross_platform" / f"{name}.parquet"
    if not path.exists():
        raise ReviewError(f"no {name} yet: run `mlds enrich --only entities` (or materialise it in the UI) first")
    return pd.read_parquet(str(path))


def review_queue(settings: Settings) -> pd.DataFrame:
    return _table(settings, "entity_review_queue")


def decide(settings: Settings, conflict: str, merge_into: str | None, new: bool, reject: bool) -> Decision:
    queue = review_queue(settings).set_index("conflict_id")
    if conflict not in queue.index:
        raise ReviewError(f"no open conflict {conflict!r}; `mlds review list` shows the open ones")
    if merge_into:
        known = set(_table(settings, "resolved_entities")["entity_id"])
        if merge_into not in known:
            raise ReviewError(f"no canonical entity {merge_into!r} to merge {conflict} into")
        decision = Decision("merge", merge_into)
    else:
        decision = Decision("new") if new else Decision("reject")
    surface = str(queue.loc[conflict, "surface"])
    record_decision(settings.entity_decisions_path, conflict, decision, surface, pd.Timestamp.now(tz="UTC").isoformat())
    return decision
