"""Conservative entity extraction: a curated dictionary, platform labels, handles and hashtags.

Fast (one Aho-Corasick pass over the batch) and precise by construction: every surface form is one a
person wrote into `config/entities.yaml`. Each hit carries the method that found it and a confidence
from config; only hits at or above the threshold are kept, and how many fell below is reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from mlds_assets.core.cleaning import feature_arrow
from mlds_assets.core.schema import CONSERVATIVE_ENTITY_COLUMNS, TEXT, arrow_text, text_series
from mlds_assets.settings import ConfidenceSettings, PlatformConfig

ENTITY_COLUMNS = tuple(CONSERVATIVE_ENTITY_COLUMNS)
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    type: str = "ORG"
    aliases: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    label_values: tuple[str, ...] = ()  # values of a platform label column that mean this entity (not text aliases)


@dataclass
class EntityDictionary:
    entities: dict[str, Entity]
    by_handle: dict[str, str] = field(default_factory=dict)
    by_hashtag: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)  # lower-cased alias or handle -> id, for labels
    by_label: dict[str, str] = field(default_factory=dict)  # lower-cased label value -> id (label_values)
    automaton: ahocorasick.Automaton | None = None

    @classmethod
    def from_entities(cls, entities: list[Entity]) -> EntityDictionary:
        table = cls({e.id: e for e in entities})
        automaton = ahocorasick.Automaton()
        aliases: dict[str, dict[str, set[str]]] = {}  # lower-cased form -> entity id -> its casings
        for entity in entities:
            for alias in {entity.name, *entity.aliases}:
                aliases.setdefault(alias.lower(), {}).setdefault(entity.id, set()).add(alias)
                table.by_name.setdefault(alias.lower(), entity.id)
            for handle in entity.handles:
                table.by_handle[handle.lower().lstrip("@")] = entity.id
                table.by_name.setdefault(handle.lower().lstrip("@"), entity.id)
            for tag in entity.hashtags:
                table.by_hashtag[tag.lower().lstrip("#")] = entity.id
            for value in entity.label_values:
                table.by_label.setdefault(value.strip().lower(), entity.id)
        for key, forms in aliases.items():
            automaton.add_word(key, (len(key), tuple((entity_id, frozenset(c)) for entity_id, c in forms.items())))
        if aliases:
            automaton.make_automaton()
            table.automaton = automaton
        return table

    def label_entity(self, value: str) -> str | None:
        """The entity a label column's value names: its `label_values` first, then a name, alias or handle."""
        return self.by_label.get(value.strip().lower()) or self.by_name.get(value.lower().lstrip("@"))

    @classmethod
    def load(cls, path: str | Path) -> EntityDictionary:
        path = Path(path)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entities = []
        for number, item in enumerate(data.get("entities", []), start=1):
            if not isinstance(item, dict) or not item.get("id") or not item.get("name"):
                raise ValueError(f"{path}: entities[{number}]: needs at least 'id' and 'name'")
            unknown = set(item) - {"id", "name", "type", "aliases", "handles", "hashtags", "label_values"}
            if unknown:
                raise ValueError(f"{path}: entities[{number}] ({item['id']}): unknown key(s) {sorted(unknown)}")
            entities.append(
                Entity(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    type=str(item.get("type", "ORG")),
                    aliases=tuple(map(str, item.get("aliases") or ())),
                    handles=tuple(map(str, item.get("handles") or ())),
                    hashtags=tuple(map(str, item.get("hashtags") or ())),
                    label_values=tuple(map(str, item.get("label_values") or ())),
                )
            )
        return cls.from_entities(entities)


def _on_boundaries(lower: str, start: int, end: int) -> bool:
    """The span [start, end] is not inside a word and not part of a @handle or #hashtag."""
    if start > 0:
        before = lower[start - 1]
        if before.isalnum() or before in "_@#":
            return False
    if end + 1 < len(lower):
        after = lower[end + 1]
        if after.isalnum() or after == "_":
            return False
    return True


def _one_word_not_at_a_word_start(lower: str, start: int, end: int) -> bool:
    """The span is a single word (letters, digits, _) and what comes before it is part of a word, a handle
    or a hashtag."""
    if start == 0:
        return False
    before = lower[start - 1]
    return (before.isalnum() or before in "_@#") and lower[start : end + 1].replace("_", "a").isalnum()


def _leftmost_longest(lower: str, table: EntityDictionary) -> list[tuple]:
    """Every match on word boundaries, then leftmost-longest among those: the exhaustive (slower) search."""
    candidates = []
    for end, (length, forms) in table.automaton.iter(lower):
        start = end - length + 1
        if _on_boundaries(lower, start, end):
            candidates.append((start, end, forms))
    spans, taken_until = [], -1
    for start, end, forms in sorted(candidates, key=lambda c: (c[0], c[0] - c[1])):
        if start > taken_until:
            spans.append((start, end, forms))
            taken_until = end
    return spans


def _alias_hits(text: str, lower: str, table: EntityDictionary, conf: ConfidenceSettings) -> list[tuple]:
    """Leftmost-longest alias matches (`iter_long`: "The New York Times" wins over "New York Times") that
    stand on word boundaries and are not part of a @handle or #hashtag."""
    spans = []
    for end, (length, forms) in table.automaton.iter_long(lower):
        start = end - length + 1
        if not _on_boundaries(lower, start, end):
            if _one_word_not_at_a_word_start(lower, start, end):
                # "adidas" in "@adidas" or "apple" in "pineapple": every other match that overlaps it starts
                # inside the same word or at the same place, so none can stand on its own. Skip it.
                continue
            # The longest form here runs into a word ("Apple Inc" in "Apple Incorporated"), and iter_long
            # does not report the shorter forms that may stand on their own ("Apple"): search exhaustively.
            spans = _leftmost_longest(lower, table)
            break
        spans.append((start, end, forms))
    hits = []
    for start, end, forms in spans:
        surface = text[start : end + 1]
        for entity_id, casings in forms:  # one hit per entity, exact if any of its aliases has this casing
            confidence = conf.alias_exact_case if surface in casings else conf.alias_other_case
            hits.append((entity_id, surface, "dictionary", start, end + 1, confidence))
    return hits


def _feature_hits(
    cleaned: pd.DataFrame, column: str, lookup: dict[str, str], method: str, confidence: float
) -> pd.DataFrame:
    """@handles or #hashtags of every post found in the dictionary, in one pass over the flattened lists."""
    prefix = "@" if method == "handle" else "#"
    values = feature_arrow(cleaned[column])
    flat = pd.Series(pc.list_flatten(values).to_numpy(zero_copy_only=False), dtype=object)
    entity = flat.map(lookup)
    known = entity.notna().to_numpy()
    rows = pc.list_parent_indices(values).to_numpy()[known]
    found = pd.DataFrame(
        {
            "row": rows,
            "entity_id": entity[known].to_numpy(),
            "surface": (prefix + flat[known]).to_numpy(),
            "method": method,
            "start": pd.array([None] * len(rows), dtype="Int64"),
            "end": pd.array([None] * len(rows), dtype="Int64"),
            "confidence": confidence,
        }
    )
    return found


def extract_conservative_entities(
    cleaned: pd.DataFrame,
    table: EntityDictionary,
    platform: PlatformConfig,
    confidence: ConfidenceSettings,
    threshold: float,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per entity hit at or above `threshold`; returns (hits, counts of what was not kept)."""
    rows: list[tuple] = []
    known_only = {label.column for label in platform.labels if label.known_only}
    below = unknown_labels = 0
    has_labels = cleaned["labels"].ne("{}").any() if "labels" in cleaned else False
    columns = zip(
        cleaned["clean_text"].fillna("").tolist(),
        cleaned["labels"].tolist() if has_labels else [None] * len(cleaned),
        strict=True,
    )
    for row, (text, labels) in enumerate(columns):
        hits: list[tuple] = []
        if table.automaton is not None and text:
            lower = text.lower()
            if len(lower) != len(text):  # "İ" lowers to two characters: keep offsets aligned with the text
                lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
            hits.extend(_alias_hits(text, lower, table, confidence))
        if labels:
            for column, value in json.loads(labels).items():
                entity_id = table.label_entity(value)
                if entity_id is None:
                    if column in known_only:
                        continue  # a customer's id in the author column: not an entity, by config
                    unknown_labels += 1
                    entity_id = "label:" + _SLUG.sub("-", value.lower()).strip("-")
                hits.append((entity_id, value, "label", None, None, confidence.label))
        for hit in hits:
            if hit[-1] >= threshold:
                rows.append((row, *hit))
            else:
                below += 1
    hits = pd.DataFrame(rows, columns=["row", "entity_id", "surface", "method", "start", "end", "confidence"])
    hits = hits.astype({"start": "Int64", "end": "Int64"})
    found = [hits] if len(hits) else []
    for column, lookup, method in (("mentions", table.by_handle, "handle"), ("hashtags", table.by_hashtag, "hashtag")):
        feature = _feature_hits(cleaned, column, lookup, method, getattr(confidence, method))
        if getattr(confidence, method) < threshold:
            below += len(feature)
        elif len(feature):
            found.append(feature)
    if found:
        hits = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
    at = pa.array(hits["row"].to_numpy(dtype="int64"))  # the post's own columns, by position: no join
    for column in ("post_id", "platform", "batch_id"):
        hits[column] = text_series(arrow_text(cleaned[column]).take(at))
    hits["entity_name"] = hits["entity_id"].map({e.id: e.name for e in table.entities.values()}).fillna(hits["surface"])
    hits["entity_type"] = hits["entity_id"].map({e.id: e.type for e in table.entities.values()}).fillna("LABEL")
    hits = hits[list(ENTITY_COLUMNS)].astype(
        {"start": "Int64", "end": "Int64", "confidence": "float64", "entity_id": TEXT, "entity_name": TEXT,
         "entity_type": TEXT, "surface": TEXT, "method": TEXT}
    )  # fmt: skip
    return hits, {"below_threshold": below, "new_label_entities": unknown_labels}
