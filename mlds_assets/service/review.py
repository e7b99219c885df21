"""`mlds review list|decide|export|apply|aliases`: the entity review queue, decided as code
(config/entity_decisions.yaml). One decision may cover many items: `decide --all-like PATTERN`, or a
decisions file exported from the queue, edited in bulk and applied."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pandas as pd
from upath import UPath

from mlds_assets.core.resolution import Decision, candidate_text, normalise_name, record_decisions
from mlds_assets.settings import Settings

ACTIONS = ("merge", "new", "reject")
EXPORT_COLUMNS = ["conflict_id", "surface", "label", "posts", "mentions", "reason", "candidates", "action", "target"]


class ReviewError(ValueError):
    """A decision that cannot be recorded: names the conflict or entity at fault."""


def _table(settings: Settings, name: str) -> pd.DataFrame:
    path = UPath(settings.lake_base) / "cross_platform" / f"{name}.parquet"
    if not path.exists():
        raise ReviewError(f"no {name} yet: run `mlds enrich --only entities` (or materialise it in the UI) first")
    return pd.read_parquet(str(path))


def review_queue(settings: Settings) -> pd.DataFrame:
    return _table(settings, "entity_review_queue")


def learned_aliases(settings: Settings) -> pd.DataFrame:
    """Every alias the resolver learned (not written in the dictionary), with the item id that taught it:
    `mlds review decide ID --reject` (or --merge-into another) takes it back."""
    canonical = _table(settings, "resolved_entities")
    if "learned_aliases" not in canonical:
        return pd.DataFrame(columns=["entity_id", "alias", "conflict_id"])
    rows = [
        (entity, alias, cid)
        for entity, aliases, sources in canonical[["entity_id", "learned_aliases", "learned_from"]].itertuples(
            index=False
        )
        for alias, cid in zip(aliases, sources, strict=True)
    ]
    return pd.DataFrame(rows, columns=["entity_id", "alias", "conflict_id"])


def _decision(settings: Settings, action: str, target: str | None, where: str) -> Decision:
    if action not in ACTIONS:
        raise ReviewError(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
    if action != "merge":
        return Decision(action)
    known = set(_table(settings, "resolved_entities")["entity_id"])
    if not target or target not in known:
        raise ReviewError(f"{where}: no canonical entity {target!r} to merge into")
    return Decision("merge", target)


def decide(
    settings: Settings,
    conflict: str | None,
    merge_into: str | None,
    new: bool,
    reject: bool,
    all_like: str | None = None,
) -> tuple[Decision, list[str]]:
    """Record one decision for an open item (or a learned alias's item), or for every open item whose
    normalised surface matches the shell pattern `all_like` ("*airport*", "flight ?"). Returns the decision
    and the ids it was recorded for."""
    queue = review_queue(settings)
    action = "merge" if merge_into else ("new" if new else "reject")
    decision = _decision(settings, action, merge_into, conflict or all_like or "")
    if all_like is not None:
        pattern = all_like.lower()
        chosen = queue[queue["surface"].map(lambda s: fnmatch.fnmatchcase(normalise_name(s), pattern))]
        if chosen.empty:
            raise ReviewError(f"no open item's surface is like {all_like!r}; `mlds review list` shows them")
        items = list(zip(chosen["conflict_id"], chosen["surface"].astype(str), strict=True))
    else:
        surfaces = dict(zip(queue["conflict_id"], queue["surface"].astype(str), strict=True))
        learned = learned_aliases(settings)
        surfaces |= {c: a for c, a in zip(learned["conflict_id"], learned["alias"], strict=True) if c not in surfaces}
        if conflict not in surfaces:
            raise ReviewError(
                f"no open item or learned alias {conflict!r}; `mlds review list` and `mlds review aliases` show them"
            )
        items = [(conflict, surfaces[conflict])]
    now = pd.Timestamp.now(tz="UTC").isoformat()
    record_decisions(settings.entity_decisions_path, [(cid, decision, surface) for cid, surface in items], now)
    return decision, [cid for cid, _ in items]


def export_queue(settings: Settings, path: Path) -> int:
    """The open items as a CSV to decide in bulk: fill `action` (merge|new|reject) and `target`, then
    `mlds review apply FILE`. Rows left without an action stay open."""
    queue = review_queue(settings)
    frame = queue.assign(candidates=[candidate_text(item) for item in queue.to_dict("records")], action="", target="")
    frame[EXPORT_COLUMNS].to_csv(path, index=False)
    return len(frame)


def apply_decisions_file(settings: Settings, path: Path) -> int:
    """Every row of an exported (and edited) file that has an action, recorded in one write; every row is
    checked before anything is written."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"conflict_id", "action"} - set(frame.columns)
    if missing:
        raise ReviewError(f"{path}: needs columns conflict_id and action (missing: {sorted(missing)})")
    items = []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        action = row["action"].strip().lower()
        if not action:
            continue
        decision = _decision(settings, action, row.get("target", "").strip() or None, f"{path.name}:{number}")
        items.append((row["conflict_id"].strip(), decision, row.get("surface", "")))
    if items:
        record_decisions(settings.entity_decisions_path, items, pd.Timestamp.now(tz="UTC").isoformat())
    return len(items)
