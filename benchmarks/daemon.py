"""The daemon path in `make bench`: runs launched per new file as the instance grows, and the time from a
file dropped into the inbox to its posts in the store through `dagster dev`, beside `mlds ingest`.

The sensor intervals are shortened to 2 s here (as in the daemon tests); with the shipped 15 s interval
and 20 s settle time a file waits 20-35 s in the inbox before its run starts, by design."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter, instance_for_test

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


def _mlds_ingest(export: Path, env: dict) -> tuple[float, dict, int]:
    """`mlds ingest` as a user runs it: wall seconds, its JSON outcome, the max RSS (MB) of its process."""
    command = [sys.executable, "-m", "mlds_assets.cli", "ingest", str(export), "--platform", "facebook"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest of every child so far
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if child.returncode != 0:
            raise subprocess.CalledProcessError(child.returncode, command, out.read(), err.read())
        return seconds, json.loads(out.read()), usage.ru_maxrss // 1024


def run_phases(instance, run_id: str) -> dict:
    """From the run's event log: launched -> its process up (start-up, shown apart) -> finished (the work)."""
    from dagster import DagsterEventType

    kinds = {DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS}
    at = {e.dagster_event.event_type: e.timestamp for e in instance.all_logs(run_id, of_type=kinds)}
    run = instance.get_run_record_by_id(run_id)
    launched = at.get(DagsterEventType.RUN_STARTING, run.create_timestamp.timestamp())
    return {
        "process_start_s": at[DagsterEventType.RUN_START] - launched,
        "run_s": at[DagsterEventType.RUN_SUCCESS] - at[DagsterEventType.RUN_START],
    }


def _peak_rss_mb(pid_of: Callable[[], int | None], done: Callable[[], bool]) -> int:
    """The run worker's peak resident memory (VmHWM), read while it runs."""
    peak, pid = 0, None
    while not done():
        pid = pid or pid_of()
        try:
            status = Path(f"/proc/{pid}/status").read_text() if pid else ""
        except OSError:
            status = ""
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) // 1024)
        time.sleep(0.2)
    return peak


def launched_vs_in_process(rows: int) -> dict:
    """The fast path for one file: `mlds ingest` in its own process (no daemon) beside `mlds ingest` launched
    through `make dev` (queued, a run worker process per run), process start shown apart."""
    from mlds_assets.demo.exports import generate_facebook_csv
    from mlds_assets.run_reaper import run_pid

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        first = generate_facebook_csv(work / f"here_{rows}.csv", rows, seed=3, dirty=True).path
        second = generate_facebook_csv(work / f"launched_{rows}.csv", rows, seed=4, dirty=True).path
        env = {**os.environ, "MLDS_HOME": str(work / "cli_home"), "MLDS__RUNS__LAUNCH": "in_process"}
        here_s, here, here_rss = _mlds_ingest(first, env)
        cli_instance = DagsterInstance.from_config(str(work / "cli_home" / "dagster_home"))
        here_phases = run_phases(cli_instance, here["run_id"])
        with dagster_dev(work / "daemon") as server:
            instance = server.instance()
            env = {**server.env, "MLDS__RUNS__WEBSERVER_URL": server.url, "MLDS__RUNS__LAUNCH": "webserver"}
            result: dict = {}
            worker = threading.Thread(
                target=lambda: result.update(zip(("s", "outcome", "rss"), _mlds_ingest(second, env), strict=True))
            )
            worker.start()

            def newest_pid() -> int | None:
                runs = instance.get_runs(RunsFilter(job_name="facebook_fast_path"), limit=1)
                return run_pid(instance, runs[0].run_id) if runs else None

            worker_rss = _peak_rss_mb(newest_pid, lambda: not worker.is_alive())
            worker.join()
            launched = run_phases(instance, result["outcome"]["run_id"])
    return {
        "rows": rows,
        "in_process": {"mlds_ingest_s": here_s, **here_phases, "peak_rss_mb": here_rss},
        "launched": {"mlds_ingest_s": result["s"], **launched, "run_worker_peak_rss_mb": worker_rss},
        "ratio_run_s": launched["run_s"] / here_phases["run_s"],
        "ratio_wall": result["s"] / here_s,
    }


def drop_to_store(rows: int) -> dict:
    from mlds_assets.demo.exports import generate_facebook_csv

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # run workers may still write
        work = Path(tmp)
        export = generate_facebook_csv(work / f"drop_{rows}.csv", rows, dirty=True).path
        env = {**os.environ, "MLDS_HOME": str(work / "cli_home"), "MLDS__RUNS__LAUNCH": "in_process"}
        out = {"rows": rows, "mlds_ingest_s": _mlds_ingest(export, env)[0]}
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


def bench_daemon(sizes: tuple[int, ...] = (2_000, 100_000), launched: tuple[int, ...] = (100_000, 1_000_000)) -> dict:
    """Runs per new file, drop -> store, and the fast path launched vs in-process (`--launched` sizes)."""
    return {
        "runs_per_new_file": runs_per_new_file(),
        "drop_to_store": [drop_to_store(rows) for rows in sizes],
        "launched_vs_in_process": [launched_vs_in_process(rows) for rows in launched],
    }


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
    lines += [
        "",
        "| rows | in-process `mlds ingest` (s) | its run (s) | its peak RSS (MB) | launched `mlds ingest` (s) "
        "| run worker start-up (s) | its run (s) | run worker peak RSS (MB) | run / run | wall / wall |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.get("launched_vs_in_process", []):
        here, there = r["in_process"], r["launched"]
        lines.append(
            f"| {r['rows']:,} | {here['mlds_ingest_s']:.1f} | {here['run_s']:.1f} | {here['peak_rss_mb']:,} "
            f"| {there['mlds_ingest_s']:.1f} | {there['process_start_s']:.1f} | {there['run_s']:.1f} "
            f"| {there['run_worker_peak_rss_mb']:,} | {r['ratio_run_s']:.2f}x | {r['ratio_wall']:.2f}x |"
        )
    return "\n".join(lines) + "\n"
