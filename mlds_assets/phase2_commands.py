"""`mlds enrich`, `mlds train|eval sentiment` and `mlds eval entities`: phase 2 on demand, and its quality."""

from __future__ import annotations

from pathlib import Path

from mlds_assets.core.embeddings import default_embedding_model, load_sentence_encoder
from mlds_assets.core.readers import read_export
from mlds_assets.core.sentiment import build_engine
from mlds_assets.core.sentiment_training import GoldSet, GoldSetError, evaluate, gold_set, parse_label_map, train_head
from mlds_assets.settings import ReadOptions, Settings

STAGES = ("sentiment", "entities", "embeddings", "topics")


def enrich(
    settings: Settings, only: str = "sentiment", platform: str | None = None, instance=None, force: bool = False
) -> list[dict]:
    """Run a phase-2 stage now for every batch of a platform (or all): pending posts only, store re-synced.
    Topics run per platform and, without --platform, across platforms; `force` refits them."""
    from mlds_assets.cli import dagster_instance, run_job
    from mlds_assets.definitions import RESOLVE_JOB, build_definitions
    from mlds_assets.sensors import enrich_job_name

    instance = instance or dagster_instance(settings)
    defs = build_definitions(settings)
    if only == "topics":
        return _topics(settings, instance, defs, platform, force)
    outcomes = []
    for name in [platform] if platform else sorted(settings.platforms):
        for batch in instance.get_dynamic_partitions(settings.platform(name).partitions_name):
            tags = {"mlds/platform": name, "mlds/stage": only, "mlds/trigger": "mlds enrich"}
            outcome = run_job(settings, instance, enrich_job_name(name, only), batch, tags, defs)
            outcomes.append({"platform": name, "batch": batch, "stage": only, **outcome})
    if only == "entities" and outcomes:  # then resolve across platforms once; the same job re-syncs the store
        tags = {"mlds/trigger": "mlds enrich"}
        outcome = run_job(settings, instance, RESOLVE_JOB, None, tags, defs)
        outcomes.append({"platform": "cross_platform", "batch": "-", "stage": "resolution", **outcome})
    return outcomes


def _topics(settings: Settings, instance, defs, platform: str | None, force: bool) -> list[dict]:
    """Each scope's topics (refit if due or forced, else new posts assigned), then the store re-synced for
    the batches whose posts' topic changed (one store_resync run, not one run per batch)."""
    from mlds_assets.assets.topics import CROSS_PLATFORM
    from mlds_assets.cli import run_job
    from mlds_assets.definitions import STORE_RESYNC_JOB
    from mlds_assets.sensors import topics_job_name

    scopes = [platform] if platform else [*sorted(settings.platforms), CROSS_PLATFORM]
    tags = {"mlds/stage": "topics", "mlds/trigger": "mlds enrich"}
    outcomes = []
    for scope in scopes:
        ops = {f"{scope}_topic_model": {"config": {"force": force}}}
        outcome = run_job(settings, instance, topics_job_name(scope), None, tags, defs, ops)
        changed = f"{scope}/topic_assignments" in outcome.get("materialized", [])
        outcomes.append(
            {"platform": scope, "batch": "-", "stage": "topics" if changed else "topics (no change)", **outcome}
        )
    if any(o["stage"] == "topics" and o["platform"] != CROSS_PLATFORM for o in outcomes):
        synced = run_job(settings, instance, STORE_RESYNC_JOB, None, tags, defs)
        if synced["status"] != "ok":
            outcomes.append({"platform": "cross_platform", "batch": "-", "stage": "store resync", **synced})
    return outcomes


def read_gold(path: Path, text_col: str, label_col: str, label_map: str | None, no_header: bool) -> GoldSet:
    """A labelled file through the same readers as exports (latin-1, CR-only lines, XLSX ...)."""
    read = read_export(path, options=ReadOptions(header=not no_header))
    gold = gold_set(read.records, text_col, label_col, path.name, parse_label_map(label_map))
    if len(read.bad_rows):
        gold.skipped["<unreadable row>"] = len(read.bad_rows)
    return gold


def train_sentiment(settings: Settings, gold: GoldSet, out: Path | None = None) -> tuple[Path, dict]:
    model = settings.sentiment.embedding_model or default_embedding_model()
    head = train_head(gold, load_sentence_encoder(model), model)
    folder = out or settings.models_dir / "sentiment" / head.meta["version"].replace(":", "-")
    head.save(folder)
    return folder, head.meta


def eval_sentiment(settings: Settings, gold: GoldSet, engine: str | None = None) -> dict:
    built = build_engine(engine or settings.sentiment.engine, settings.sentiment, settings.models_dir)
    return evaluate(built, gold)


def format_eval(report: dict) -> str:
    lines = [f"{key}: {value}" for key, value in report.items() if not isinstance(value, dict)]
    for key in ("gold_labels", "skipped_labels"):
        lines.append(f"{key}: " + (", ".join(f"{k} {v}" for k, v in report[key].items()) or "none"))
    return "\n".join(lines)


def eval_entities(
    settings: Settings, path: Path, text_col: str, target_col: str, target_map: str | None, no_header: bool,
    dictionary: Path | None = None,
) -> dict:  # fmt: skip
    """Extraction and resolution against a file naming each post's target entity (empty = none named)."""
    from mlds_assets.core.enhanced_entities import load_ner, model_version
    from mlds_assets.core.entities import EntityDictionary
    from mlds_assets.core.entity_eval import evaluate_entities, parse_target_map

    read = read_export(path, options=ReadOptions(header=not no_header))
    for column in (text_col, target_col):
        if column not in read.records.columns:
            raise GoldSetError(f"{path.name}: no column {column!r} (columns: {list(read.records.columns)[:20]})")
    table = EntityDictionary.load(dictionary or settings.entity_dictionary_path)
    nlp = load_ner(settings.entities.enhanced.model, table)
    targets = read.records[target_col].replace("", None)
    report = evaluate_entities(
        read.records[text_col], targets, table, nlp, model_version(nlp, table), settings.entities,
        parse_target_map(target_map),
    )  # fmt: skip
    return {"gold": path.name, "model_version": model_version(nlp, table), **report}
