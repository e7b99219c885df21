"""Entity extraction and resolution measured against a gold file that names each post's target entity
(brand-emotion's "emotion is directed at" column): the same three steps the lanes run, then per post
whether the target is among what was resolved, and precision and recall of each step's entity ids."""

from __future__ import annotations

import pandas as pd

from mlds_assets.core.cleaning import clean_posts
from mlds_assets.core.enhanced_entities import extract_enhanced_entities
from mlds_assets.core.entities import EntityDictionary, extract_conservative_entities
from mlds_assets.core.resolution import Matcher, resolve
from mlds_assets.settings import EntitySettings, PlatformConfig

_GOLD_PLATFORM = PlatformConfig(name="gold", fields={"text": "text"}, required=("text",))


def parse_target_map(text: str | None) -> dict[str, set[str]]:
    """'iPad or iPhone App=ipad|iphone,Other Google product or service=google' -> target -> ids."""
    mapping: dict[str, set[str]] = {}
    for pair in filter(None, (text or "").split(",")):
        target, _, ids = pair.partition("=")
        mapping[target.strip().lower()] = {i.strip() for i in ids.split("|") if i.strip()}
    return mapping


def expected_ids(targets: pd.Series, table: EntityDictionary, target_map: dict[str, set[str]]) -> pd.Series:
    """Each target as the set of canonical ids it means: the map first, then the dictionary's own matching."""
    matcher = Matcher(table)
    lookup = {}
    for target in targets.dropna().unique():
        mapped = target_map.get(str(target).strip().lower())
        by_label = table.by_label.get(str(target).strip().lower())
        mapped = mapped or ({by_label} if by_label else None)
        lookup[target] = mapped if mapped else {c.entity_id for c in matcher.candidates(str(target))}
    return targets.map(lambda t: lookup.get(t, set()) if pd.notna(t) else set())


def evaluate_entities(
    texts: pd.Series, targets: pd.Series, table: EntityDictionary, nlp, version: str, entities: EntitySettings,
    target_map: dict[str, set[str]] | None = None,
) -> dict:  # fmt: skip
    posts = pd.DataFrame({"post_id": [f"row-{i}" for i in range(len(texts))], "text": texts.fillna("").tolist()})
    posts[["platform", "batch_id", "labels"]] = ["gold", "gold", "{}"]
    cleaned = clean_posts(posts)
    conservative, _ = extract_conservative_entities(
        cleaned, table, _GOLD_PLATFORM, entities.confidence, entities.confidence_threshold
    )
    enhanced = entities.enhanced
    found = extract_enhanced_entities(
        cleaned[["post_id", "clean_text"]], nlp, version, enhanced.batch_size, enhanced.n_process, enhanced.labels,
        enhanced.ruler_confidence, enhanced.ner_confidence,
    ).assign(platform="gold")  # fmt: skip
    settings = entities.resolution
    resolution = resolve(
        conservative, found, table, {}, settings.fuzzy_threshold, settings.discovery_confidence,
        settings.review_skip_labels, settings.review_min_posts,
    )  # fmt: skip
    expected = pd.Series(
        expected_ids(targets.reset_index(drop=True), table, target_map or {}).tolist(), index=posts["post_id"]
    )
    named = expected[expected.map(len) > 0]
    known = set(table.entities)

    def ids_per_post(frame: pd.DataFrame, column: str) -> pd.Series:
        linked = frame.dropna(subset=[column])
        linked = linked[linked[column].isin(known)]
        return (
            linked.groupby("post_id")[column]
            .agg(set)
            .reindex(named.index)
            .map(lambda s: s if isinstance(s, set) else set())
        )

    steps = {
        "conservative": ids_per_post(conservative, "entity_id"),
        "enhanced": ids_per_post(found, "entity_id"),
        "resolved": ids_per_post(resolution.mentions, "canonical_id"),
    }
    report = {
        "posts": len(posts),
        "posts_with_target": len(named),
        "targets_unmapped": int(targets.notna().sum() - len(named)),
        "resolution_accuracy": _share(named, steps["resolved"], lambda e, p: bool(e & p)),
    }
    for step, predicted in steps.items():
        hits = sum(len(e & p) for e, p in zip(named, predicted, strict=True))
        guessed = sum(len(p) for p in predicted)
        report[f"{step}_precision"] = round(hits / guessed, 4) if guessed else 0.0
        report[f"{step}_recall"] = _share(named, predicted, lambda e, p: bool(e & p))
    report["review_queue"] = len(resolution.review)
    return report


def _share(expected: pd.Series, predicted: pd.Series, hit) -> float:
    if not len(expected):
        return 0.0
    return round(sum(hit(e, p) for e, p in zip(expected, predicted, strict=True)) / len(expected), 4)
