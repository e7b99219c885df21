"""Cross-platform entity resolution: which canonical entity each mention means, what is new, and what
needs a person.

The rules: a mention that matches exactly one canonical entity merges into it (the canonical name stays
primary, the surface form becomes an alias, the mention keeps its own method and confidence); one that
matches several goes to review; one that matches none is a discovery when its confidence is above
`discovery_confidence`, and goes to review otherwise. Matching is on normalised names, aliases, handles and
hashtags ("Nike", "@nike", "#nike", "Nike Inc" are one key), then fuzzy similarity above a threshold.
People's decisions come first, so a decided conflict never returns to the queue.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from rapidfuzz import fuzz, process

from mlds_assets.core.entities import EntityDictionary

RESOLVER_VERSION = "resolver:1"
CORPORATE_SUFFIXES = frozenset({"inc", "corp", "corporation", "co", "company", "ltd", "llc", "plc", "gmbh", "ag"})
_NOT_WORD = re.compile(r"[^\w]+")
_SLUG = re.compile(r"[^a-z0-9]+")


def normalise_name(text: str) -> str:
    """One key for the spellings of one name: case, @ and #, punctuation and a corporate suffix go."""
    words = _NOT_WORD.sub(" ", str(text).lower().lstrip("@#")).split()
    while len(words) > 1 and words[-1] in CORPORATE_SUFFIXES:
        words.pop()
    return " ".join(words)


def conflict_id(surface: str, label: str) -> str:
    """Stable across runs and platforms: the same normalised surface and label are one conflict."""
    return hashlib.sha1(f"{normalise_name(surface)}|{label}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Decision:
    action: Literal["merge", "new", "reject"]
    target: str | None = None  # the canonical id, for merge


@dataclass(frozen=True)
class Candidate:
    entity_id: str
    how: str  # name | alias | handle | hashtag | fuzzy
    score: float


class Matcher:
    """Canonical entities by normalised key, with fuzzy lookup over the keys for the rest."""

    def __init__(self, table: EntityDictionary, fuzzy_threshold: float = 90.0) -> None:
        self.threshold = fuzzy_threshold
        self.keys: dict[str, dict[str, str]] = {}
        for entity in table.entities.values():
            forms = [(entity.name, "name"), *((a, "alias") for a in entity.aliases)]
            forms += [(h, "handle") for h in entity.handles] + [(t, "hashtag") for t in entity.hashtags]
            for form, how in forms:
                key = normalise_name(form)
                if key:
                    self.keys.setdefault(key, {}).setdefault(entity.id, how)
        self._choices = list(self.keys)

    def candidates(self, surface: str) -> list[Candidate]:
        key = normalise_name(surface)
        if not key:
            return []
        if key in self.keys:
            return [Candidate(entity_id, how, 100.0) for entity_id, how in self.keys[key].items()]
        best: dict[str, float] = {}
        for choice, score, _ in process.extract(
            key, self._choices, scorer=fuzz.ratio, score_cutoff=self.threshold, limit=None
        ):
            for entity_id in self.keys[choice]:
                best[entity_id] = max(best.get(entity_id, 0.0), score)
        return [Candidate(e, "fuzzy", s) for e, s in sorted(best.items(), key=lambda item: -item[1])]


@dataclass
class Resolution:
    canonical: pd.DataFrame  # entity_id, primary_name, aliases, type, origin, platforms, mentions
    mentions: pd.DataFrame  # one row per mention, with canonical_id, link and versions
    review: pd.DataFrame  # one row per open conflict, with candidates and evidence


MENTION_COLUMNS = [
    "post_id", "platform", "surface", "label", "method", "confidence", "model_version",
    "canonical_id", "link", "conflict_id", "resolver_version",
]  # fmt: skip
REVIEW_COLUMNS = ["conflict_id", "surface", "label", "reason", "candidates", "mentions", "max_confidence", "examples"]


def resolve(
    conservative: pd.DataFrame,
    enhanced: pd.DataFrame,
    table: EntityDictionary,
    decisions: dict[str, Decision] | None = None,
    fuzzy_threshold: float = 90.0,
    discovery_confidence: float = 0.8,
) -> Resolution:
    """`conservative`: post_id, platform, entity_id, surface, method, confidence (already canonical ids).
    `enhanced`: post_id, platform, surface, label, method, confidence, model_version, and entity_id where an
    entity ruler matched the dictionary."""
    decisions = decisions or {}
    matcher = Matcher(table, fuzzy_threshold)
    rows = [
        {**_mention(r), "canonical_id": r["entity_id"], "link": "conservative", "conflict_id": None}
        for r in conservative.to_dict("records")
    ]
    review: list[dict] = []
    added: dict[str, set[str]] = {}
    discovered: dict[str, tuple[str, str]] = {}  # id -> (primary name, type)
    groups = enhanced.assign(_key=enhanced["surface"].map(normalise_name)).groupby(["_key", "label"], sort=True)
    for (_key, label), group in groups:
        first = group.iloc[0]
        cid = conflict_id(first["surface"], label)
        canonical, link, reason, candidates = _decide(group, cid, matcher, decisions, discovery_confidence)
        if canonical and canonical.startswith("discovered:") and canonical not in table.entities:
            discovered.setdefault(canonical, (str(first["surface"]), str(label)))
        if reason is not None:
            review.append(
                {
                    "conflict_id": cid, "surface": str(first["surface"]), "label": label, "reason": reason,
                    "candidates": candidates, "mentions": len(group),
                    "max_confidence": float(group["confidence"].max()),
                    "examples": group["post_id"].head(3).tolist(),
                }
            )  # fmt: skip
        elif canonical:  # merged or discovered: new spellings become aliases
            known = table.entities.get(canonical)
            names = {n.lower() for n in ((known.name, *known.aliases) if known else discovered[canonical][:1])}
            fresh = {str(s) for s in group["surface"].unique() if str(s).lower() not in names}
            if fresh:
                added.setdefault(canonical, set()).update(fresh)
        for record in group.to_dict("records"):
            rows.append({**_mention(record), "canonical_id": canonical, "link": link, "conflict_id": cid})
    mentions = pd.DataFrame(rows, columns=MENTION_COLUMNS[:-1]).assign(resolver_version=RESOLVER_VERSION)
    return Resolution(
        canonical=_canonical_table(table, mentions, discovered, added),
        mentions=mentions,
        review=pd.DataFrame(review, columns=REVIEW_COLUMNS),
    )


def _mention(record: dict) -> dict:
    return {
        "post_id": record["post_id"],
        "platform": record.get("platform"),
        "surface": record.get("surface"),
        "label": record.get("label") or record.get("entity_type"),
        "method": record.get("method"),
        "confidence": record.get("confidence"),
        "model_version": record.get("model_version"),
    }


def _decide(group, cid, matcher, decisions, discovery_confidence):
    """(canonical id or None, link, review reason or None, candidate ids) for one surface and label."""
    decision = decisions.get(cid)
    if decision is not None:
        if decision.action == "merge":
            return decision.target, "decision", None, []
        if decision.action == "new":
            return _discovered_id(group.iloc[0]["surface"]), "decision", None, []
        return None, "rejected", None, []
    ruled = group["entity_id"].dropna().unique() if "entity_id" in group else []
    if len(ruled) == 1:  # the entity ruler matched a dictionary alias: the one match there is
        return str(ruled[0]), "ruler", None, []
    candidates = matcher.candidates(group.iloc[0]["surface"])
    ids = [c.entity_id for c in candidates]
    if len(candidates) == 1:
        return ids[0], "exact" if candidates[0].how != "fuzzy" else "fuzzy", None, ids
    if len(candidates) > 1:
        return None, "review", f"matches {len(ids)} entities: {', '.join(ids)}", ids
    confidence = float(group["confidence"].max())
    if confidence > discovery_confidence:
        return _discovered_id(group.iloc[0]["surface"]), "discovery", None, []
    return None, "review", f"no match, confidence {confidence:.2f} <= {discovery_confidence}", []


def _discovered_id(surface: str) -> str:
    return "discovered:" + _SLUG.sub("-", normalise_name(surface)).strip("-")


def _canonical_table(table, mentions, discovered, added) -> pd.DataFrame:
    linked = mentions.dropna(subset=["canonical_id"])
    platforms = linked.groupby("canonical_id")["platform"].agg(lambda p: sorted(set(p.dropna())))
    counts = linked.groupby("canonical_id").size()
    rows = []
    for entity in table.entities.values():
        aliases = sorted({*entity.aliases, *added.get(entity.id, ())} - {entity.name})
        rows.append((entity.id, entity.name, aliases, entity.type, "dictionary"))
    for entity_id, (name, label) in discovered.items():
        rows.append((entity_id, name, sorted(added.get(entity_id, set()) - {name}), label, "discovered"))
    for entity_id in sorted(set(linked["canonical_id"]) - {r[0] for r in rows}):  # label values, decided ids
        surfaces = sorted(set(linked.loc[linked["canonical_id"] == entity_id, "surface"].dropna()))
        rows.append((entity_id, surfaces[0] if surfaces else entity_id, surfaces[1:], "LABEL", "label"))
    frame = pd.DataFrame(rows, columns=["entity_id", "primary_name", "aliases", "type", "origin"])
    frame["platforms"] = frame["entity_id"].map(platforms).apply(lambda p: p if isinstance(p, list) else [])
    frame["mentions"] = frame["entity_id"].map(counts).fillna(0).astype("int64")
    return frame


def load_decisions(path: Path) -> dict[str, Decision]:
    """People's decisions, from a YAML file kept in git beside the dictionary (absent = none yet)."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    decisions = {}
    for cid, item in (data.get("decisions") or {}).items():
        action = item.get("action") if isinstance(item, dict) else None
        if action not in ("merge", "new", "reject") or (action == "merge" and not item.get("target")):
            raise ValueError(f"{path}: decisions.{cid}: needs action merge (with target), new or reject")
        decisions[str(cid)] = Decision(action, item.get("target"))
    return decisions


def record_decision(path: Path, cid: str, decision: Decision, surface: str, decided_at: str) -> None:
    """Add or replace one decision, keeping the others; the file stays readable in a review."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    data = data or {}
    entry = {"action": decision.action, "surface": surface, "decided_at": decided_at}
    if decision.target:
        entry["target"] = decision.target
    data.setdefault("decisions", {})[cid] = entry
    path.write_text(
        "# Entity-resolution decisions, written by `mlds review decide`; applied at the next materialisation.\n"
        + yaml.safe_dump(data, sort_keys=True, allow_unicode=True),
        encoding="utf-8",
    )


def gold_accuracy(mentions: pd.DataFrame, gold: pd.DataFrame) -> dict:
    """Each gold surface form against what its mentions resolved to (their most common canonical id).
    Surfaces never mentioned are counted apart: they say nothing about resolution."""
    keyed = mentions.assign(_key=mentions["surface"].map(normalise_name))
    resolved = keyed.dropna(subset=["canonical_id"]).groupby("_key")["canonical_id"].agg(lambda s: s.mode().iloc[0])
    seen = keyed["_key"].unique()
    expected = gold.assign(_key=gold["surface"].map(normalise_name))
    present = expected[expected["_key"].isin(seen)]
    right = present["_key"].map(resolved).eq(present["canonical_id"])
    wrong = present.loc[~right, "surface"].tolist()
    return {
        "gold_surfaces": len(expected),
        "seen": len(present),
        "accuracy": float(right.mean()) if len(present) else 0.0,
        "wrong": wrong[:10],
    }
