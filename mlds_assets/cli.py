"""`mlds`: drive the same assets as the UI, through Dagster and the persistent instance.

Every run started here is a normal Dagster run in `<MLDS_HOME>/dagster_home`, so `make dev` shows it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mlds_assets.core.enhanced_entities import EntityModelError
from mlds_assets.core.landing import LandingError, land_file
from mlds_assets.core.locks import BatchBusyError
from mlds_assets.core.readers import ExportReadError
from mlds_assets.core.sentiment import SentimentModelError
from mlds_assets.core.sentiment_training import GoldSetError
from mlds_assets.core.status import platform_status, store_status
from mlds_assets.phase2_commands import (
    STAGES,
    combine_gold,
    enrich,
    eval_entities,
    eval_heldout,
    eval_sentiment,
    finetune_sentiment,
    format_eval,
    read_gold,
    train_sentiment,
)
from mlds_assets.review_commands import (
    ReviewError,
    apply_decisions_file,
    decide,
    export_queue,
    learned_aliases,
    review_queue,
)
from mlds_assets.settings import ConfigError, Settings, load_settings
from mlds_assets.store.base import StoreUnavailableError
from mlds_assets.store.rebuild import RebuildError

QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the instance keeps the full log
PROFILES = Path(__file__).parent / "dagster_profiles"  # dagster.yaml for SQLite (default) and Postgres
DAGSTER_YAML = (PROFILES / "sqlite.yaml").read_text()


def dagster_instance(settings: Settings):
    from dagster import DagsterInstance

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # written beside and renamed: a second `mlds` starting now never reads half a file
        partial = home / f".dagster.yaml.{os.getpid()}.tmp"
        partial.write_text(DAGSTER_YAML)
        os.replace(partial, config)
    os.environ["DAGSTER_HOME"] = str(home)
    instance = DagsterInstance.get()
    from mlds_assets.run_reaper import fail_dead_runs

    apply_pool_limits(instance, settings)
    fail_dead_runs(instance, include_daemon_runs=False)  # a killed `mlds ingest` leaves no STARTED run behind
    return instance


def apply_pool_limits(instance, settings: Settings) -> dict[str, int]:
    """Size the Dagster pools from `concurrency` in global.yaml (the profiles' default_limit of 1 holds
    until then): every run on this instance, from the daemon, the UI or `mlds`, then shares them."""
    from mlds_assets.assets.automation import POOL_MODELS, POOL_STORE

    wanted = {POOL_STORE: settings.concurrency.store_writers, POOL_MODELS: settings.concurrency.model_steps}
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    current = {pool.name: pool.limit for pool in storage.get_pool_limits()}
    for pool, limit in wanted.items():
        if current.get(pool) != limit:
            try:
                storage.set_concurrency_slots(pool, limit)
            except Exception:  # another `mlds` starting at the same moment sized it first (unique key)
                now = {p.name: p.limit for p in storage.get_pool_limits()}
                if now.get(pool) != limit:
                    raise
    return wanted


def ingest(
    settings: Settings, path: Path, platform: str, instance=None, mode: str | None = None, replay: bool = False
) -> dict:
    """Land one file and run the platform's fast path for it (and phase 2 at once in `full` mode). With
    `replay`, a file already ingested is mapped again from its landed copy (after a platform YAML fix)."""
    from mlds_assets.sensors import enrich_job_name, fast_path_job_name

    partitions = settings.platform(platform).partitions_name
    instance = instance or dagster_instance(settings)
    landed, _ = land_file(path, settings.landing_dir, platform, settings.ingestion.max_file_bytes)
    known = instance.has_dynamic_partition(partitions, landed.partition_key)  # not after `mlds batch drop`
    if known and not replay and fast_path_done(instance, platform, landed.partition_key):
        return {
            "platform": platform, "batch": landed.partition_key, "status": "already ingested",
            "hint": "mlds ingest --replay maps the landed file again (after a fix to the platform YAML)",
        }  # fmt: skip
    if not known:
        _add_partition(instance, partitions, landed.partition_key)
    # else: a run for this file was killed or failed part-way; it runs again, and every step upserts
    mode = mode or settings.mode_for(platform)
    tags = {"mlds/source_file": path.name, "mlds/platform": platform, "mlds/mode": mode}
    if replay:
        tags["mlds/replay"] = "true"
    outcome = run_job(settings, instance, fast_path_job_name(platform), landed.partition_key, tags)
    outcome = {
        "platform": platform,
        "batch": landed.partition_key,
        **outcome,
        **batch_accounting(settings, platform, landed.partition_key),
    }
    if mode == "full" and outcome["status"] == "ok":  # what the automation sensor does in full mode, now
        stages = {
            stage: run_job(settings, instance, enrich_job_name(platform, stage), landed.partition_key, tags)
            for stage in ("sentiment", "embeddings")
        }
        worst = "failed" if any(s["status"] == "failed" for s in stages.values()) else None
        worst = worst or ("checks failed" if any(s["status"] != "ok" for s in stages.values()) else "ok")
        outcome["phase2"] = {"status": worst, "stages": stages}
    return outcome


def _add_partition(instance, partitions: str, key: str) -> None:
    """Add a dynamic partition; the same content landing under two names at once may race another process
    to it (Dagster checks, then inserts: the loser gets an IntegrityError), which is no error at all."""
    try:
        instance.add_dynamic_partitions(partitions, [key])
    except Exception:
        if not instance.has_dynamic_partition(partitions, key):
            raise


class BatchError(ValueError):
    """`mlds batch` was asked about a batch the platform does not have."""


def drop_batch(settings: Settings, platform: str, batch: str, instance=None) -> dict:
    """Retire a batch: its dynamic partition, lake files, landed file and store records go, and the drop is
    recorded in `<home>/batch_drops.log`. For batches that should never have been ingested (a rejected
    file keeps `mlds enrich` failing on it), or whose data must go."""
    from mlds_assets.core.locks import batch_lock
    from mlds_assets.store.rebuild import drop_batch_data, record_drop

    partitions = settings.platform(platform).partitions_name
    instance = instance or dagster_instance(settings)
    known = instance.has_dynamic_partition(partitions, batch)
    sidecar = settings.landing_dir / platform / f"{batch}.landed.json"
    if not known and not sidecar.is_file():
        batches = instance.get_dynamic_partitions(partitions)
        raise BatchError(f"{platform} has no batch {batch!r}; its batches: {', '.join(batches[:20]) or 'none'}")
    with batch_lock(settings.home / "locks", batch):
        dropped = drop_batch_data(open_store(settings), settings.lake_base, settings.landing_dir, platform, batch)
        if known:
            instance.delete_dynamic_partition(partitions, batch)
    record_drop(settings.home / "batch_drops.log", dropped, known)
    return {**dropped.__dict__, "partition_deleted": known, "log": str(settings.home / "batch_drops.log")}


def batch_accounting(settings: Settings, platform: str, batch: str) -> dict:
    """Rows in, kept and quarantined for one batch, and the most common quarantine reasons (from the lake)."""
    from mlds_assets.core.quarantine import quarantine_share, top_reasons
    from mlds_assets.lake import read_lake_partition

    kept = read_lake_partition(settings.lake_base, [platform, "raw_posts"], batch, ["source_row"])
    quarantine = read_lake_partition(settings.lake_base, [platform, "quarantine"], batch, ["source_row", "reason"])
    if kept is None or quarantine is None:
        return {}
    rows_in = len(kept) + len(quarantine)
    return {
        "rows": {"in": rows_in, "kept": len(kept), "quarantined": len(quarantine)},
        "quarantine_share": round(quarantine_share(rows_in, len(quarantine)), 4),
        "top_quarantine_reasons": top_reasons(quarantine),
    }


def fast_path_done(instance, platform: str, batch: str) -> bool:
    """The batch's fast path finished: its last assets (store records, metrics) are materialised. A known
    partition without them is a run that died part-way, so the same file is run again, not skipped."""
    from dagster import AssetKey

    return all(
        batch in instance.get_materialized_partitions(AssetKey([platform, asset]))
        for asset in ("post_collection", "basic_metrics")
    )


def run_job(
    settings: Settings,
    instance,
    job_name: str,
    partition: str | None,
    tags: dict | None = None,
    defs=None,
    ops_config: dict | None = None,
) -> dict:
    """One partition (None: an unpartitioned job) through one job on the persistent instance: status,
    what was materialised, checks and errors as a dict."""
    from mlds_assets.core.locks import BatchBusyError, batch_lock
    from mlds_assets.definitions import build_definitions
    from mlds_assets.execution import run_in_process

    job = (defs or build_definitions(settings)).resolve_job_def(job_name)
    from mlds_assets.run_reaper import run_tags

    tags = {**(tags or {}), **run_tags()}  # so that the run can be failed later if this process dies
    run_config = {**QUIET_RUN, "ops": ops_config} if ops_config else QUIET_RUN
    try:
        with batch_lock(settings.home / "locks", partition or job_name):
            result = run_in_process(  # outputs live in the lake; keeping them in memory too doubles the peak
                job, partition_key=partition, instance=instance, raise_on_error=False, tags=tags,
                run_config=run_config,
            )  # fmt: skip
    except BatchBusyError as busy:
        return {"run_id": None, "materialized": [], "status": "busy", "errors": [str(busy)]}
    checks = [
        e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    materialized = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})
    outcome = {"run_id": result.run_id, "materialized": materialized}
    if not result.success:
        return {**outcome, "status": "failed", "errors": _step_errors(result)}
    failed = [c for c in checks if not c.passed]
    errors = [c.check_name for c in failed if c.severity.value == "ERROR"]
    return {
        **outcome,
        "status": "checks failed" if errors else "ok",
        "checks_passed": len(checks) - len(failed),
        "checks_failed": errors,
        "checks_warned": [c.check_name for c in failed if c.severity.value != "ERROR"],  # e.g. a sentiment backlog
    }


def _step_errors(result) -> list[str]:
    """The error our code raised in each failed step, not Dagster's wrapper around it."""
    errors = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            error = error.cause or error  # the step error wraps ours; ours may wrap a library's
            errors.append(f"{event.step_key}: {error.message.strip()}")
    return errors


def open_store(settings: Settings):
    """The post store. The embedded LanceDB one opens without importing Dagster or the asset graph (about
    3 s of a keyword search from the command line); another backend goes through the resource."""
    if settings.store.backend == "lancedb":
        from mlds_assets.store.lancedb_store import LanceDBPostStore

        config = settings.store
        store = LanceDBPostStore(settings.store_uri, config.table, config.vector_dim, config.write_batch_rows)
        store.ensure_collection()
        return store
    from mlds_assets.definitions import post_store_resource

    return post_store_resource(settings).get_store()


def status(settings: Settings, instance=None) -> dict:
    """Posts and pending counts from the post store; the rest from the lake and the instance."""
    from mlds_assets.batch_status import batch_states

    instance = instance or dagster_instance(settings)
    store = open_store(settings)
    platforms = {}
    for name in sorted(settings.platforms):
        states = batch_states(instance, name, settings.platform(name).partitions_name)
        platforms[name] = {
            "batches": len(states["with_data"]),  # batches whose file was read; failed ones are listed apart
            "failed_batches": states["failed"],
            "batches_in_progress": len(states["in_progress"]) + len(states["never_run"]),
            **platform_status(settings.lake_base, name),
            **store_status(store, name),
        }
    return {"platforms": platforms}


def store_disagreements(settings: Settings, report: dict) -> list[str]:
    """Platforms whose store count differs from the lake's distinct posts: the store needs a rebuild."""
    problems = []
    for name, numbers in report["platforms"].items():
        lake_posts = platform_status(settings.lake_base, name)["posts"]
        if numbers["posts"] != lake_posts:
            problems.append(f"{name}: the post store has {numbers['posts']} posts, the lake {lake_posts}")
    return problems


SEARCH_MODES = ("hybrid", "semantic", "keyword")
MAX_SEARCH_LIMIT = 10_000
MAX_INT64 = 2**63 - 1


def _int_between(low: int, high: int):
    """An argparse type: an integer in [low, high], or a one-line error naming the bounds."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: between {low} and {high}")
        return value

    return parse


def search(
    settings: Settings,
    query: str,
    platform=None,
    entity=None,
    sentiment=None,
    limit: int = 10,
    mode: str = "hybrid",
    topic: int | None = None,
):
    """The post store's search with filters. `hybrid` (keyword + vector, fused by rank) and `semantic`
    (vector only) embed the query with the configured model; posts not embedded yet are still found by
    their words in hybrid mode."""
    where = {k: v for k, v in {"platform": platform, "entity": entity, "sentiment_label": sentiment}.items() if v}
    if topic is not None:
        where["topic_id"] = int(topic)
    store = open_store(settings)
    if mode == "keyword":
        return store.keyword_search(query, where=where or None, limit=limit)
    from mlds_assets.core.embeddings import embed, shared_encoder

    config = settings.embeddings
    vector = embed(shared_encoder(config.model, config.device), [query], 1, config.bf16_on_cpu)[0].tolist()
    if mode == "semantic":
        return store.vector_search(vector, where=where or None, limit=limit)
    return store.hybrid_search(query, vector, where=where or None, limit=limit)


def demo(settings: Settings, posts_per_platform: int = 400) -> dict:
    from mlds_assets.demo.exports import generate_exports

    instance = dagster_instance(settings)
    exports = generate_exports(settings.inbox_dir, posts_per_platform=posts_per_platform)
    results = [ingest(settings, e.path, e.platform, instance) for e in exports]
    enriched = enrich(settings, "sentiment", instance=instance)  # what the nightly schedules would do
    enriched += enrich(settings, "entities", instance=instance)
    enriched += enrich(settings, "embeddings", instance=instance)
    enriched += enrich(settings, "topics", instance=instance)
    analytics = daily_report(settings, instance)  # what the 06:00 run does
    return {"ingested": results, "enriched": enriched, "analytics": analytics, **status(settings, instance)}


def daily_report(settings: Settings, instance=None) -> dict:
    """Phase 3 now: every platform's metrics, the cross-platform metrics and the day's report; the
    outcome carries the report's path."""
    from dagster import AssetKey

    from mlds_assets.definitions import DAILY_ANALYTICS_JOB

    instance = instance or dagster_instance(settings)
    outcome = run_job(settings, instance, DAILY_ANALYTICS_JOB, None, {"mlds/trigger": "mlds report"})
    event = instance.get_latest_materialization_event(AssetKey(["cross_platform", "reports"]))
    report = event.asset_materialization.metadata["report"].value if event else None
    return {"platform": "cross_platform", "batch": "-", "stage": "analytics", **outcome, "report": report}


def _print_accounting(outcome: dict, limit: float) -> None:
    """The batch's rows in / kept / quarantined and the top reasons, on stderr (stdout stays JSON)."""
    rows = outcome.get("rows")
    if not rows:
        return
    counts = f"{rows['in']} rows in, {rows['kept']} kept, {rows['quarantined']} quarantined"
    share = f"{outcome['quarantine_share']:.1%}; the limit is {limit:.0%}"
    print(f"{outcome['platform']} {outcome['batch']}: {counts} ({share})", file=sys.stderr)
    for reason in outcome["top_quarantine_reasons"]:
        print(f"  {reason['rows']:>8} rows: {reason['example']}", file=sys.stderr)


def _print_status(report: dict) -> None:
    header = f"{'platform':<15}{'batches':>8}{'posts':>9}{'quarantined':>13}{'entities':>10}{'sentiment':>11}"
    print(header + f"{'semantic':>10}  last ingested")
    for name, s in report["platforms"].items():
        counts = f"{s['batches']:>8}{s['posts']:>9}{s['quarantined']:>13}{s['entities']:>10}"
        sentiment, semantic = (
            f"{s[k]:.0%}" if s[k] is not None else "-" for k in ("sentiment_coverage", "semantic_coverage")
        )
        print(f"{name:<15}{counts}{sentiment:>11}{semantic:>10}  {s['last_ingested_at'] or '-'}")
    for name, s in report["platforms"].items():
        for batch, error in s.get("failed_batches", {}).items():
            print(f"{name}: batch {batch} failed: {error}")
        if s.get("duplicate_records"):
            print(f"{name}: {s['duplicate_records']} duplicate records in the store; `mlds store rebuild` removes them")


def _review(settings: Settings, args) -> int:
    from mlds_assets.core.resolution import candidate_text

    later = "applied at the next resolution: `mlds enrich --only entities`, or materialise resolved_entities"
    if args.what == "list":
        queue = review_queue(settings)
        if args.json:
            print(queue.to_json(orient="records", force_ascii=False))
            return 0
        for row in (queue.head(args.limit) if args.limit else queue).to_dict("records"):
            scored = candidate_text(row) if "candidate_scores" in row else ", ".join(row["candidates"])
            posts = row.get("posts", row["mentions"])
            print(
                f"{row['conflict_id']}  {row['surface']!r} ({row['label']}; {posts} posts, {row['mentions']} mentions)"
            )
            print(f"              {row['reason']}" + (f"; candidates: {scored}" if scored else ""))
        print(f"{len(queue)} open items, {int(queue['mentions'].sum()) if len(queue) else 0} mentions")
        return 0
    if args.what == "aliases":
        learned = learned_aliases(settings)
        for row in learned.itertuples():
            print(f"{row.conflict_id}  {row.entity_id:<20} {row.alias!r}")
        print(f"{len(learned)} learned aliases; reverse one: mlds review decide ID --reject (or --merge-into OTHER)")
        return 0
    if args.what == "export":
        print(
            f"{export_queue(settings, args.path)} open items -> {args.path}; fill action (merge|new|reject) and target"
        )
        return 0
    if args.what == "apply":
        print(f"{apply_decisions_file(settings, args.path)} decisions -> {settings.entity_decisions_path}")
        print(later)
        return 0
    decision, ids = decide(settings, args.conflict, args.merge_into, args.new, args.reject, args.all_like)
    print(f"{len(ids)} item(s): {decision.action} {decision.target or ''} -> {settings.entity_decisions_path}")
    print(later)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlds", description="MLDS: social-media exports to searchable, measured data."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="generate sample exports for every platform and ingest them")
    demo_cmd.add_argument("--posts", type=int, default=400, help="posts per platform (default 400)")
    ingest_cmd = commands.add_parser("ingest", help="ingest one export file now (no need to wait for the sensor)")
    ingest_cmd.add_argument("path", type=Path)
    ingest_cmd.add_argument("--platform", required=True)
    ingest_cmd.add_argument("--mode", choices=["fast", "full"], default=None)
    ingest_cmd.add_argument(
        "--replay", action="store_true", help="map an already-ingested file again (after fixing the platform YAML)"
    )
    status_cmd = commands.add_parser("status", help="posts, quarantine and coverage per platform")
    status_cmd.add_argument("--json", action="store_true")
    search_cmd = commands.add_parser("search", help="hybrid (keyword + semantic) search of the post store")
    search_cmd.add_argument("query")
    search_cmd.add_argument("--platform")
    search_cmd.add_argument("--entity", help="canonical entity id, e.g. nike")
    search_cmd.add_argument("--sentiment", choices=["negative", "neutral", "positive"])
    search_cmd.add_argument(
        "--topic", type=_int_between(-1, MAX_INT64), help="the platform topic id (see the topics asset)"
    )
    search_cmd.add_argument("--mode", choices=SEARCH_MODES, default="hybrid")
    search_cmd.add_argument(
        "--limit", type=_int_between(1, MAX_SEARCH_LIMIT), default=10, help=f"1 to {MAX_SEARCH_LIMIT} (default 10)"
    )
    search_cmd.add_argument("--json", action="store_true")
    commands.add_parser("report", help="phase 3 now: platform and cross-platform metrics, the day's HTML report")
    api_cmd = commands.add_parser("api", help="serve the read API (FastAPI; 127.0.0.1:8000 by default)")
    api_cmd.add_argument("--host", help="bind address (default api.host: 127.0.0.1)")
    api_cmd.add_argument("--port", type=int)
    api_cmd.add_argument(
        "--insecure", action="store_true", help="allow binding beyond loopback without a key (warns)"
    )
    enrich_cmd = commands.add_parser("enrich", help="run a phase-2 stage now over pending posts")
    enrich_cmd.add_argument("--only", choices=STAGES, default="sentiment")
    enrich_cmd.add_argument("--platform")
    enrich_cmd.add_argument("--force", action="store_true", help="topics: refit now, however few new posts")
    eval_parsers = {}
    for verb, text in (("train", "train a sentiment head on labelled posts"), ("eval", "measure against gold")):
        verb_cmd = commands.add_parser(verb, help=text).add_subparsers(dest="what", required=True)
        eval_parsers[verb] = verb_cmd
        gold_cmd = verb_cmd.add_parser("sentiment", help=text)
        gold_cmd.add_argument(
            "--gold", type=Path, nargs="+", action="extend", default=[],
            help="one or more CSV/JSON/JSONL/Parquet/XLSX files with labels (same columns)",
        )  # fmt: skip
        gold_cmd.add_argument("--text-col")
        gold_cmd.add_argument("--label-col")
        gold_cmd.add_argument("--label-map", help="e.g. 0=negative,1=neutral,2=positive (needed for numbers but 0/2/4)")
        gold_cmd.add_argument("--no-header", action="store_true", help="columns are then 0, 1, 2, ...")
        gold_cmd.add_argument(
            "--data-dir", type=Path, default=Path("../shared/data"),
            help="the labelled sets (tweeteval_sentiment, brand_product_emotion, sentiment140_test)",
        )  # fmt: skip
        if verb == "train":
            gold_cmd.add_argument(
                "--method", choices=["head", "finetune"], default="head",
                help="head: logistic regression over embeddings; finetune: the MiniLM's top layers (without --gold: "
                "the shipped model's recipe from --data-dir; with --gold: continue from the shipped model)",
            )  # fmt: skip
            gold_cmd.add_argument("--out", type=Path, help="model folder (default <home>/models/sentiment/...)")
            gold_cmd.add_argument("--base", type=Path, help="finetune --gold: continue from this model folder")
            gold_cmd.add_argument("--epochs", type=int)
            gold_cmd.add_argument("--top-layers", type=int, help="finetune: transformer layers trained (default 3)")
        else:
            gold_cmd.add_argument("--engine", help="default: sentiment.engine from config")
            gold_cmd.add_argument("--model", type=Path, help="a model folder (fine-tuned, classifier or transformers)")
            gold_cmd.add_argument(
                "--heldout", action="store_true",
                help="score the seeded held-out test parts of --data-dir's sets (the model card's table)",
            )  # fmt: skip
            gold_cmd.add_argument("--json", action="store_true")
    eval_entities_cmd = eval_parsers["eval"].add_parser("entities", help="extraction and resolution on gold targets")
    eval_entities_cmd.add_argument("--gold", type=Path, required=True)
    eval_entities_cmd.add_argument("--text-col", required=True)
    eval_entities_cmd.add_argument("--target-col", required=True, help="the entity each post is about (empty: none)")
    eval_entities_cmd.add_argument("--target-map", help="target=id[|id],... where a target is not a dictionary name")
    eval_entities_cmd.add_argument("--dictionary", type=Path, help="entity dictionary (default: entities.dictionary)")
    eval_entities_cmd.add_argument("--no-header", action="store_true")
    eval_entities_cmd.add_argument("--json", action="store_true")
    review_cmd = commands.add_parser("review", help="the entity review queue").add_subparsers(
        dest="what", required=True
    )
    review_list = review_cmd.add_parser("list", help="open items, most posts first, with scored candidates")
    review_list.add_argument("--json", action="store_true")
    review_list.add_argument("--limit", type=int, default=50, help="items shown (default 50; 0 = all)")
    review_decide = review_cmd.add_parser("decide", help="decide items (written to entity_decisions.yaml)")
    which = review_decide.add_mutually_exclusive_group(required=True)
    which.add_argument("conflict", nargs="?", help="an item id from `review list` or `review aliases`")
    which.add_argument("--all-like", metavar="PATTERN", help="every open item whose surface matches, e.g. '*airport*'")
    review_export = review_cmd.add_parser("export", help="the open items as a CSV to decide in bulk")
    review_export.add_argument("path", type=Path)
    review_apply = review_cmd.add_parser("apply", help="record every decided row of an exported CSV")
    review_apply.add_argument("path", type=Path)
    review_cmd.add_parser("aliases", help="aliases the resolver learned, with the item id that reverses each")
    choice = review_decide.add_mutually_exclusive_group(required=True)
    choice.add_argument("--merge-into", metavar="CANONICAL")
    choice.add_argument("--new", action="store_true", help="a new canonical entity")
    choice.add_argument("--reject", action="store_true", help="not an entity")
    commands.add_parser(
        "instance", help="create the Dagster instance (dagster.yaml) if missing and size its pools from config"
    )
    store_cmd = commands.add_parser("store", help="post store maintenance")
    store_sub = store_cmd.add_subparsers(dest="store_command", required=True)
    rebuild_cmd = store_sub.add_parser("rebuild", help="recreate the post store from the lake")
    rebuild_cmd.add_argument("--platform", help="only this platform (default: all)")
    batch_cmd = commands.add_parser("batch", help="batch maintenance")
    batch_sub = batch_cmd.add_subparsers(dest="batch_command", required=True)
    drop_cmd = batch_sub.add_parser(
        "drop", help="retire a batch: its partition, lake files, landed file and store records (logged)"
    )
    drop_cmd.add_argument("platform")
    drop_cmd.add_argument("batch", help="the batch id (partition key), as `mlds ingest` printed it")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        if args.command == "demo":
            report = demo(settings, args.posts)
            for run in report["ingested"]:
                print(f"{run['platform']:<15} {run['status']:<17} batch {run['batch']}")
            for run in [*report["enriched"], report["analytics"]]:
                print(f"{run['platform']:<15} {run['status']:<17} {run['stage']}, batch {run['batch']}")
            print()
            _print_status(report)
            print(f"\nReport:           {report['analytics']['report']}   (open it in a browser)")
            print(f"Lake (Parquet):   {settings.lake_base}")
            print(f"Dagster instance: {settings.dagster_home}")
            print("Open the UI:      make dev   then http://127.0.0.1:3000")
            print(f"Read API:         mlds api   then http://{settings.api.host}:{settings.api.port}/docs")
            runs = report["ingested"] + report["enriched"] + [report["analytics"]]
            return 0 if all(r["status"] != "failed" for r in runs) else 1
        if args.command == "instance":
            pools = apply_pool_limits(dagster_instance(settings), settings)
            print(f"DAGSTER_HOME={settings.dagster_home}")
            print("pools: " + ", ".join(f"{name}={limit}" for name, limit in pools.items()))
            return 0
        if args.command == "report":
            outcome = daily_report(settings)
            print(f"{outcome['status']}: {outcome['report']}")
            return 0 if outcome["status"] == "ok" else 1
        if args.command == "api":
            from mlds_assets.api import ApiExposureError, serve

            try:
                serve(settings, args.host or settings.api.host, args.port or settings.api.port, args.insecure)
            except ApiExposureError as exc:
                print(f"mlds api: {exc}", file=sys.stderr)
                return 2
            return 0
        if args.command == "ingest":
            if not args.path.is_file():
                print(f"mlds: {args.path}: no such file", file=sys.stderr)
                return 2
            outcome = ingest(settings, args.path, args.platform, mode=args.mode, replay=args.replay)
            print(json.dumps(outcome, indent=2))
            _print_accounting(outcome, settings.ingestion.max_quarantine_rate)
            phase2 = outcome.get("phase2", {"status": "ok"})["status"]  # --mode full: phase 2 counts too
            return 0 if outcome["status"] in ("ok", "already ingested") and phase2 == "ok" else 1
        if args.command == "status":
            report = status(settings)
            print(json.dumps(report, indent=2)) if args.json else _print_status(report)
            for problem in store_disagreements(settings, report):
                print(f"mlds: warning: {problem}; run `mlds store rebuild`", file=sys.stderr)
            return 0
        if args.command == "search":
            hits = search(
                settings, args.query, args.platform, args.entity, args.sentiment, args.limit, args.mode, args.topic
            )
            columns = ["post_id", "platform", "created_at", "text", "entities", "topic_id", "_score", "_distance"]
            hits = hits[[c for c in columns if c in hits.columns]]
            if args.json:
                print(hits.to_json(orient="records", date_format="iso", force_ascii=False))
            else:
                for hit in hits.itertuples():
                    print(f"{hit.platform:<14} {str(hit.created_at)[:16]}  {hit.text[:100]}")
            return 0
        if args.command == "enrich":
            outcomes = enrich(settings, args.only, args.platform, force=args.force)
            for run in outcomes:
                warned = run.get("checks_warned") or []
                shown = "ok, warned" if warned and run["status"] == "ok" else run["status"]
                print(f"{run['platform']:<15} {shown:<14} {run['stage']} batch {run['batch']}")
                for check in warned:  # a WARN check (e.g. the review queue) is not hidden behind "ok"
                    print(f"{'':<15} WARN {check}")
            if not outcomes:
                print("no batches ingested yet")
            return 0 if all(r["status"] == "ok" for r in outcomes) else 1
        if args.command == "eval" and args.what == "entities":
            report = eval_entities(
                settings, args.gold, args.text_col, args.target_col, args.target_map, args.no_header, args.dictionary
            )
            print(json.dumps(report, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
            return 0
        if args.command in ("train", "eval"):
            if args.gold and not (args.text_col and args.label_col):
                parser.error("--gold needs --text-col and --label-col")
            golds = [read_gold(p, args.text_col, args.label_col, args.label_map, args.no_header) for p in args.gold]
            if args.command == "train":
                if args.method == "finetune":
                    folder, meta = finetune_sentiment(
                        settings, golds, args.data_dir, args.out, args.base, args.epochs, args.top_layers,
                        log=lambda line: print(line, file=sys.stderr, flush=True),
                    )  # fmt: skip
                    print(json.dumps({"model": str(folder), **meta}, indent=2, default=str))
                    return 0
                if not golds:
                    parser.error("train sentiment --method head needs --gold")
                folder, meta = train_sentiment(settings, combine_gold(golds), args.out)
                print(json.dumps({"model": str(folder), **meta}, indent=2, default=str))
                return 0
            if args.heldout:
                reports = eval_heldout(settings, args.data_dir, args.engine, args.model)
            elif golds:
                reports = eval_sentiment(settings, golds, args.engine, args.model)
            else:
                parser.error("eval sentiment needs --gold FILE... or --heldout")
            if args.json:
                print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
            else:
                print("\n\n".join(format_eval(report) for report in reports))
            return 0
        if args.command == "review":
            return _review(settings, args)
        if args.command == "batch":
            dropped = drop_batch(settings, args.platform, args.batch)
            print(
                f"{args.platform} batch {args.batch} dropped: {len(dropped['lake_files'])} lake files, "
                f"{dropped['store_removed']} store records ({dropped['store_restored']} posts kept from other "
                f"batches), partition {'deleted' if dropped['partition_deleted'] else 'already gone'}; "
                f"recorded in {dropped['log']}"
            )
            return 0
        if args.command == "store":
            from mlds_assets.store.rebuild import rebuild_platform_report

            store = open_store(settings)
            for name in [args.platform] if args.platform else sorted(settings.platforms):
                settings.platform(name)
                result = rebuild_platform_report(store, settings.lake_base, name)
                print(f"{name:<15} {result.posts:>9} posts ({result.written} written, {result.removed} removed)")
            return 0
    except ConfigError as exc:
        print(f"mlds: configuration error:\n{exc}", file=sys.stderr)
        return 2
    except (
        SentimentModelError, GoldSetError, ExportReadError, ReviewError, EntityModelError, RebuildError, BatchError,
        BatchBusyError, LandingError, StoreUnavailableError,
    ) as exc:
        print(f"mlds: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable file, a full disk, ...: what and where, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mlds: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
