"""The daemon path in `make bench`: runs launched per new file as the instance grows, and the time from a
file dropped into the inbox to its posts in the store through `dagster dev`, beside `mlds ingest`.

The sensor intervals are shortened to 2 s here (as in the daemon tests); with the shipped 15 s interval
and 20 s settle time a file waits 20-35 s in the inbox before its run starts, by design."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, RunsFilter, instance_for_test

from mlds_assets.automation_probe import runs_for_new_file
from mlds_assets.devserver import dagster_dev, wait_until
from mlds_assets.settings import load_settings


def runs_per_new_file(sizes: tuple[int, ...] = (10, 200)) -> list[dict]:
    found = []
    for existing in sizes:
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as work:
            settings = load_settings(env={"MLDS_HOME": str(Path(work) / "home")})
            (Path(work) / "dagster").mkdir()
            with instance_for_test(temp_dir=str(Path(work) / "dagster")) as instance:
                probe = runs_for_new_file(settings, instance, existing)
        found.append({"existing_batches": existing, "runs": probe["runs"], "asset_partitions": probe["requested"]})
    return found


def _mlds_ingest_seconds(export: Path, work: Path) -> float:
    env = {**os.environ, "MLDS_HOME": str(work / "cli_home")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlds_assets.cli", "ingest", str(export), "--platform", "facebook"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def drop_to_store(rows: int) -> dict:
    from mlds_assets.demo.exports import generate_facebook_csv

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # run workers may still write
        work = Path(tmp)
        export = generate_facebook_csv(work / f"drop_{rows}.csv", rows, dirty=True).path
        out = {"rows": rows, "mlds_ingest_s": _mlds_ingest_seconds(export, work)}
        with dagster_dev(work / "daemon") as server:
            settings = load_settings(env=server.env)
            inbox = settings.inbox_dir / "facebook"
            inbox.mkdir(parents=True, exist_ok=True)
            dropped = time.time()
            os.replace(export, inbox / export.name)
            instance = server.instance()
            key = AssetKey(["facebook", "post_collection"])
            record = wait_until(
                "the dropped file's posts in the store",
                lambda: instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1).records,
                1800, 0.5, server.tail,
            )[0]  # fmt: skip
            runs = instance.get_run_records(RunsFilter(tags={"dagster/partition": record.partition_key}))
            first = min(runs, key=lambda r: r.create_timestamp.timestamp())
            launched = first.create_timestamp.timestamp()
            out.update(
                drop_to_store_s=record.timestamp - dropped,
                waiting_in_inbox_s=launched - dropped,
                run_to_store_s=record.timestamp - launched,
            )
    out["ratio_run_vs_mlds_ingest"] = out["run_to_store_s"] / out["mlds_ingest_s"]
    return out


def bench_daemon(sizes: tuple[int, ...] = (2_000, 100_000)) -> dict:
    return {"runs_per_new_file": runs_per_new_file(), "drop_to_store": [drop_to_store(rows) for rows in sizes]}


def markdown(result: dict) -> str:
    lines = ["| existing batches | runs launched for one new file | asset partitions requested |", "|---:|---:|---:|"]
    lines += [
        f"| {r['existing_batches']} | {r['runs']} | {r['asset_partitions']} |" for r in result["runs_per_new_file"]
    ]
    lines += [
        "",
        "| rows | `mlds ingest` (s) | drop -> store via the daemon (s) | of which waiting in the inbox (s) "
        "| run launched -> store (s) | run / `mlds ingest` |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["drop_to_store"]:
        lines.append(
            f"| {r['rows']:,} | {r['mlds_ingest_s']:.1f} | {r['drop_to_store_s']:.1f} | {r['waiting_in_inbox_s']:.1f} "
            f"| {r['run_to_store_s']:.1f} | {r['ratio_run_vs_mlds_ingest']:.2f}x |"
        )
    return "\n".join(lines) + "\n"
