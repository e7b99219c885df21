"""`mlds`: argument parsing and printing over `mlds_assets.service`.

Every run started here is a run of the persistent instance in `<MLDS_HOME>/dagster_home`: launched through
the webserver when `make dev` is up, else in this process (see `service/runs.py`); `make dev` shows it.
The service modules that load Dagster are imported by the commands that need them, so that `mlds search`
and `mlds --help` start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlds_assets.service.store import SEARCH_MODES, open_store, search
from mlds_assets.settings import PHASE2_STAGES, ConfigError, Settings, load_settings
from mlds_assets.store.base import StoreUnavailableError

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
    from mlds_assets.service.review import apply_decisions_file, decide, export_queue, learned_aliases, review_queue

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
    api_cmd.add_argument("--insecure", action="store_true", help="allow binding beyond loopback without a key (warns)")
    enrich_cmd = commands.add_parser("enrich", help="run a phase-2 stage now over pending posts")
    enrich_cmd.add_argument("--only", choices=PHASE2_STAGES, default="sentiment")
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
            from mlds_assets.service.reports import demo

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
            from mlds_assets.service.instance import apply_pool_limits, dagster_instance

            pools = apply_pool_limits(dagster_instance(settings), settings)
            print(f"DAGSTER_HOME={settings.dagster_home}")
            print("pools: " + ", ".join(f"{name}={limit}" for name, limit in pools.items()))
            return 0
        if args.command == "report":
            from mlds_assets.service.reports import daily_report

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
            from mlds_assets.service.ingest import ingest

            outcome = ingest(settings, args.path, args.platform, mode=args.mode, replay=args.replay)
            print(json.dumps(outcome, indent=2))
            _print_accounting(outcome, settings.ingestion.max_quarantine_rate)
            phase2 = outcome.get("phase2", {"status": "ok"})["status"]  # --mode full: phase 2 counts too
            return 0 if outcome["status"] in ("ok", "already ingested") and phase2 == "ok" else 1
        if args.command == "status":
            from mlds_assets.service.status import status, store_disagreements

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
            from mlds_assets.service.enrich import enrich

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
        if args.command in ("train", "eval"):
            from mlds_assets.service.models import (
                combine_gold,
                eval_entities,
                eval_heldout,
                eval_sentiment,
                finetune_sentiment,
                format_eval,
                read_gold,
                train_sentiment,
            )
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
            from mlds_assets.service.ingest import drop_batch

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
    except _user_errors() as exc:
        print(f"mlds: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable file, a full disk, ...: what and where, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mlds: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return 1


def _user_errors() -> tuple[type[Exception], ...]:
    """What a user can mend (a bad file, a missing model, a store that is down): one line, not a traceback.
    Evaluated only when an exception reaches `main`'s handler, so a command does not import every module
    that defines one (`mlds search` starts without the training, review, landing and rebuild code)."""
    from mlds_assets.core.embeddings import ModelUnavailableError
    from mlds_assets.core.enhanced_entities import EntityModelError
    from mlds_assets.core.landing import LandingError
    from mlds_assets.core.readers import ExportReadError
    from mlds_assets.core.sentiment import SentimentModelError
    from mlds_assets.core.sentiment_training import GoldSetError
    from mlds_assets.service.errors import BatchError, RunLaunchError
    from mlds_assets.service.review import ReviewError
    from mlds_assets.store.rebuild import RebuildError

    return (SentimentModelError, GoldSetError, ExportReadError, ReviewError, EntityModelError, RebuildError,
            BatchError, RunLaunchError, LandingError, StoreUnavailableError, ModelUnavailableError)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
