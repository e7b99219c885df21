"""Cross-platform entity resolution: which canonical entity each mention means, what is new, and what
needs a person.

The rules: a mention that matches exactly one canonical entity merges into it (the canonical name stays
primary, the surface form becomes an alias, the mention keeps its own method and confidence); one that
matches several goes to review; one that matches none is a discovery when its confidence is above
`discovery_confidence`, and goes to review otherwise. Matching is on normalised names, aliases, handles and
hashtags ("Nike", "@nike", "#nike", "Nike Inc" are one key), then fuzzy similarity above a threshold.
People's decisions come first, so a decided conflict never returns to the queue.

The review queue is one item per normalised surface, whatever labels NER gave it, ranked by how many posts
a decision would move. Surfaces that cannot name a brand or product (numbers, times, emoji, single
characters), labels configured off (places, by default) and surfaces seen in fewer posts than configured
never reach it. A fuzzy match alone merges only
a name of several words: a single word ("Phone" ~ iPhone) goes to review with its candidate and score, as a
dictionary word may be. Learned aliases are normalised and each keeps the id of the item that taught it,
so a person can list them and reverse one with a decision.
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

from mlds_assets.core import schema
from mlds_assets.core.entities import EntityDictionary

RESOLVER_VERSION = "resolver:2"  # 2: one item per surface, filtered queue, no single-word fuzzy merge
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
    """The id of one surface under one NER label (decisions recorded before issue 19 are keyed by it)."""
    return hashlib.sha1(f"{normalise_name(surface)}|{label}".encode()).hexdigest()[:12]


def surface_id(surface: str) -> str:
    """Stable across runs, platforms and labels: one review item per normalised surface."""
    return hashlib.sha1(f"surface|{normalise_name(surface)}".encode()).hexdigest()[:12]


DEFAULT_SKIP_LABELS = ("GPE", "FAC", "LOC", "NORP")  # places and demonyms: never a brand, most of a queue
_TIME_OR_NUMBER = re.compile(r"[\d\s]+(am|pm|a m|p m|st|nd|rd|th|s|h|hr|hrs|min|mins|k|m|x|gb|mb)?")
_TRAILING_NOISE = re.compile(r"(?:[\s\W_]|\d)+$")


def cannot_be_a_name(surface: str) -> bool:
    """Numbers, times, ordinals, emoji, single characters, retweet markers and runs of handles ("RT
    @mention", "@a @b"): nothing a brand or product is called. One unknown @handle may be a brand."""
    key = normalise_name(surface)
    letters = [c for c in key if c.isalpha()]
    text = str(surface).strip()
    artefact = text.count("@") > 1 or text.upper().startswith("RT @")
    return artefact or len(letters) < 2 or _TIME_OR_NUMBER.fullmatch(key) is not None


def clean_alias(surface: str) -> str:
    """A learned alias as people should read it: no trailing punctuation or numbers ("@delta&" -> "@delta")."""
    return _TRAILING_NOISE.sub("", str(surface).strip())


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

    def candidates(self, surface: str, cutoff: float | None = None, limit: int | None = None) -> list[Candidate]:
        """Exact key matches, else fuzzy ones at or above `cutoff` (default: the merge threshold)."""
        key = normalise_name(surface)
        if not key:
            return []
        if key in self.keys:
            return [Candidate(entity_id, how, 100.0) for entity_id, how in self.keys[key].items()]
        best: dict[str, float] = {}
        for choice, score, _ in process.extract(
            key, self._choices, scorer=fuzz.ratio, score_cutoff=self.threshold if cutoff is None else cutoff,
            limit=None,
        ):  # fmt: skip
            for entity_id in self.keys[choice]:
                best[entity_id] = max(best.get(entity_id, 0.0), score)
        ranked = [Candidate(e, "fuzzy", round(s, 1)) for e, s in sorted(best.items(), key=lambda item: -item[1])]
        return ranked[:limit] if limit else ranked

    def known(self, surface: str) -> bool:
        return normalise_name(surface) in self.keys


@dataclass
class Resolution:
    canonical: pd.DataFrame  # entity_id, primary_name, aliases, type, origin, platforms, mentions
    mentions: pd.DataFrame  # one row per mention, with canonical_id, link and versions
    review: pd.DataFrame  # one row per open conflict, with candidates and evidence


MENTION_COLUMNS = list(schema.MENTION_COLUMNS)
REVIEW_COLUMNS = list(schema.REVIEW_COLUMNS)
SUGGESTION_CUTOFF = 70.0  # fuzzy candidates shown to a reviewer (not merged) from this ratio up
SUGGESTIONS = 3


def resolve(
    conservative: pd.DataFrame,
    enhanced: pd.DataFrame,
    table: EntityDictionary,
    decisions: dict[str, Decision] | None = None,
    fuzzy_threshold: float = 90.0,
    discovery_confidence: float = 0.8,
    skip_labels: tuple[str, ...] = DEFAULT_SKIP_LABELS,
    min_posts: int = 1,
) -> Resolution:
    """`conservative`: post_id, platform, entity_id, surface, method, confidence (already canonical ids).
    `enhanced`: post_id, platform, surface, label, method, confidence, model_version, and entity_id where an
    entity ruler matched the dictionary. Mentions that cannot be a name, or carry only `skip_labels`, are
    linked to nothing with link "filtered" and never queued; those in fewer than `min_posts` posts, with
    link "rare"."""
    decisions = decisions or {}
    matcher = Matcher(table, fuzzy_threshold)
    rows = [
        {**_mention(r), "canonical_id": r["entity_id"], "link": "conservative", "conflict_id": None}
        for r in conservative.to_dict("records")
    ]
    review: list[dict] = []
    added: dict[str, dict[str, str]] = {}  # canonical id -> learned alias -> the item id that taught it
    discovered: dict[str, tuple[str, str]] = {}  # id -> (primary name, type)
    skip = set(skip_labels)
    keyed = enhanced.assign(_key=enhanced["surface"].map(normalise_name))
    for _key, whole in keyed.groupby("_key", sort=True):
        sid = surface_id(whole["surface"].iloc[0])
        for group, legacy in _by_decision(whole, sid, decisions):
            surface = str(group["surface"].mode().iloc[0])
            labels = sorted({str(label) for label in group["label"].dropna()})
            decision = decisions.get(legacy or sid)
            canonical, link, reason, candidates = _decide(
                group, surface, labels, decision, matcher, skip, discovery_confidence
            )
            if canonical and canonical.startswith("discovered:") and canonical not in table.entities:
                discovered.setdefault(canonical, (surface, labels[0] if labels else "ORG"))
            if reason is not None and group["post_id"].nunique() < min_posts:
                reason, link = None, "rare"
            if reason is not None:
                review.append(
                    {
                        "conflict_id": sid, "surface": surface, "label": ", ".join(labels), "reason": reason,
                        "candidates": [c.entity_id for c in candidates],
                        "candidate_scores": [float(c.score) for c in candidates],
                        "mentions": len(group), "posts": int(group["post_id"].nunique()),
                        "max_confidence": float(group["confidence"].max()),
                        "examples": group["post_id"].drop_duplicates().head(3).tolist(),
                    }
                )  # fmt: skip
            elif canonical:  # merged or discovered: new spellings become (normalised) aliases
                known = table.entities.get(canonical)
                names = {n.lower() for n in ((known.name, *known.aliases) if known else discovered[canonical][:1])}
                for alias in {clean_alias(s) for s in group["surface"].dropna().astype(str)}:
                    if alias and alias[0] not in "@#" and alias.lower() not in names:  # handles are not aliases
                        added.setdefault(canonical, {}).setdefault(alias, legacy or sid)
            for record in group.to_dict("records"):
                rows.append({**_mention(record), "canonical_id": canonical, "link": link, "conflict_id": legacy or sid})
    mentions = pd.DataFrame(rows, columns=MENTION_COLUMNS[:-1]).assign(resolver_version=RESOLVER_VERSION)
    queue = pd.DataFrame(review, columns=REVIEW_COLUMNS)
    queue = queue.sort_values(["posts", "mentions", "surface"], ascending=[False, False, True], kind="stable")
    return Resolution(
        canonical=_canonical_table(table, mentions, discovered, added),
        mentions=mentions,
        review=queue.reset_index(drop=True),
    )


def candidate_text(item) -> str:
    """A queue item's candidates with their scores: "iphone (91), ipad (73)"."""
    return ", ".join(f"{c} ({s:.0f})" for c, s in zip(item["candidates"], item["candidate_scores"], strict=True))


def _by_decision(whole: pd.DataFrame, sid: str, decisions: dict[str, Decision]):
    """(mentions, legacy id or None): labels decided under a per-label id (before issue 19) keep that
    decision; the rest of the surface is one item."""
    if sid in decisions or not decisions:
        yield whole, None
        return
    legacy = whole["label"].map(lambda label: conflict_id(whole["surface"].iloc[0], label))
    decided = legacy.isin(decisions.keys())
    for cid in legacy[decided].unique():
        yield whole[legacy.eq(cid)], cid
    if (~decided).any():
        yield whole[~decided], None


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


def _decide(group, surface, labels, decision, matcher, skip, discovery_confidence):
    """(canonical id or None, link, review reason or None, candidates) for one normalised surface."""
    if decision is not None:
        if decision.action == "merge":
            return decision.target, "decision", None, []
        if decision.action == "new":
            return _discovered_id(surface), "decision", None, []
        return None, "rejected", None, []
    ruled = group["entity_id"].dropna().unique() if "entity_id" in group else []
    if len(ruled) == 1:  # the entity ruler matched a dictionary alias: the one match there is
        return str(ruled[0]), "ruler", None, []
    candidates = matcher.candidates(surface)
    ids = [c.entity_id for c in candidates]
    if len(candidates) == 1 and candidates[0].how != "fuzzy":
        return ids[0], "exact", None, candidates
    if cannot_be_a_name(surface) or (labels and set(labels) <= skip):
        return None, "filtered", None, []
    if len(candidates) == 1:  # fuzzy alone: only a name of several words, never a single (dictionary) word
        if len(normalise_name(surface).split()) > 1:
            return ids[0], "fuzzy", None, candidates
        return None, "review", f"single word, spelled like {ids[0]} ({candidates[0].score:.0f})", candidates
    if len(candidates) > 1:
        return None, "review", f"matches {len(ids)} entities: {', '.join(ids)}", candidates
    confidence = float(group["confidence"].max())
    if confidence > discovery_confidence:
        return _discovered_id(surface), "discovery", None, []
    suggestions = matcher.candidates(surface, cutoff=SUGGESTION_CUTOFF, limit=SUGGESTIONS)
    return None, "review", f"no match, confidence {confidence:.2f} <= {discovery_confidence}", suggestions


def _discovered_id(surface: str) -> str:
    return "discovered:" + _SLUG.sub("-", normalise_name(surface)).strip("-")


def _canonical_table(table, mentions, discovered, added) -> pd.DataFrame:
    linked = mentions.dropna(subset=["canonical_id"])
    platforms = linked.groupby("canonical_id")["platform"].agg(lambda p: sorted(set(p.dropna())))
    counts = linked.groupby("canonical_id").size()
    rows = []
    for entity in table.entities.values():
        learned = added.get(entity.id, {})
        aliases = sorted({*entity.aliases, *learned} - {entity.name})
        rows.append((entity.id, entity.name, aliases, entity.type, "dictionary", *_learned(learned)))
    for entity_id, (name, label) in discovered.items():
        learned = {a: c for a, c in added.get(entity_id, {}).items() if a != name}
        rows.append((entity_id, name, sorted(learned), label, "discovered", *_learned(learned)))
    for entity_id in sorted(set(linked["canonical_id"]) - {r[0] for r in rows}):  # label values, decided ids
        surfaces = sorted(set(linked.loc[linked["canonical_id"] == entity_id, "surface"].dropna()))
        rows.append((entity_id, surfaces[0] if surfaces else entity_id, surfaces[1:], "LABEL", "label", [], []))
    columns = ["entity_id", "primary_name", "aliases", "type", "origin", "learned_aliases", "learned_from"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["platforms"] = frame["entity_id"].map(platforms).apply(lambda p: p if isinstance(p, list) else [])
    frame["mentions"] = frame["entity_id"].map(counts).fillna(0).astype("int64")
    return frame


def _learned(learned: dict[str, str]) -> tuple[list[str], list[str]]:
    """Learned aliases (sorted) and, aligned, the review-item id that taught each (to reverse it)."""
    names = sorted(learned)
    return names, [learned[n] for n in names]


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
    record_decisions(path, [(cid, decision, surface)], decided_at)


def record_decisions(path: Path, items: list[tuple[str, Decision, str]], decided_at: str) -> None:
    """Add or replace (id, decision, surface) decisions in one write, keeping the others."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    data = data or {}
    for cid, decision, surface in items:
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
