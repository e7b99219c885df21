"""The path users take: `dagster dev` with its daemon over a SQLite instance on loopback. Files dropped into
the inboxes, the inbox and automation sensors, a launch through the webserver's GraphQL API as the UI makes
it, a run killed with SIGKILL. Slow by nature (real processes per run); nothing here is timed."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterRunStatus, RunsFilter

from mlds_assets.core.landing import land_file
from mlds_assets.core.status import platform_status
from mlds_assets.demo.exports import (
    generate_customer_care_csv,
    generate_facebook_csv,
    generate_instagram_json,
    generate_tiktok_jsonl,
)
from mlds_assets.devserver import dagster_dev, wait_until
from mlds_assets.run_reaper import run_pid
from mlds_assets.settings import load_settings
from mlds_assets.store.lancedb_store import LanceDBPostStore

GENERATORS = {
    "facebook": (generate_facebook_csv, "csv"),
    "instagram": (generate_instagram_json, "json"),
    "tiktok": (generate_tiktok_jsonl, "jsonl"),
    "customer_care": (generate_customer_care_csv, "csv"),
}
BAD_ROWS = "status_id,status_message,status_published\n1,fine post,2024-01-01 10:00:00\n" + "".join(
    f"{n},,2024-01-01 10:00:00\n" for n in range(2, 8)
)  # six of seven rows have no text: the quarantine-rate gate (blocking) fails


def same_posts_other_bytes(path: Path, fmt: str) -> str:
    """The same records written differently: another file (another batch) whose post ids all repeat."""
    text = path.read_text()
    if fmt == "json":
        return json.dumps(json.loads(text), indent=1)
    if fmt == "jsonl":
        return "".join(json.dumps(json.loads(line), sort_keys=True) + "\n" for line in text.splitlines() if line)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return frame.to_csv(index=False, quoting=csv.QUOTE_ALL)


def drop(inbox: Path, platform: str, name: str, content: str) -> None:
    """Written beside the inbox, then renamed into it: a complete file appears at once."""
    staging = inbox.parent / "staging" / name
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text(content)
    (inbox / platform).mkdir(parents=True, exist_ok=True)
    os.replace(staging, inbox / platform / name)


def twenty_files(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """Per platform five files: three generated (different seeds), two re-serialised copies of them; the
    first Facebook file is replaced by one whose blocking gate fails."""
    files: dict[str, list[tuple[str, str]]] = {}
    for number, (platform, (generate, fmt)) in enumerate(GENERATORS.items()):
        files[platform] = []
        for k in range(3):
            path = folder / f"{platform}_{k}.{fmt}"
            generate(path, 40, seed=100 * number + k, dirty=False)
            files[platform].append((path.name, path.read_text()))
        for k in range(2):
            source = folder / f"{platform}_{k}.{fmt}"
            files[platform].append((f"{platform}_{k}_again.{fmt}", same_posts_other_bytes(source, fmt)))
    files["facebook"][0] = ("facebook_bad.csv", BAD_ROWS)
    return files


@pytest.mark.daemon
def test_twenty_files_at_once_through_the_daemon(tmp_path):
    files = twenty_files(tmp_path / "exports")
    with dagster_dev(tmp_path) as server:
        settings = load_settings(env=server.env)
        for platform, named in files.items():
            for name, content in named:
                drop(settings.inbox_dir, platform, name, content)
        instance = server.instance()

        def batches() -> dict[str, list[str]]:
            return {p: instance.get_dynamic_partitions(settings.platform(p).partitions_name) for p in files}

        wait_until("20 partitions from the inbox sensor", lambda: sum(map(len, batches().values())) == 20, 300)
        bad = next(b for b in batches()["facebook"] if b.startswith("facebook_bad"))

        def done() -> bool:
            """Every good batch in the store and resolution has run."""
            stored = all(
                set(keys) - {bad} <= server.materialized(instance, p, "post_collection")
                for p, keys in batches().items()
            )
            resynced = instance.get_latest_materialization_event(AssetKey(["cross_platform", "store_resync"]))
            return stored and resynced is not None

        wait_until("every good batch in the store", done, 900, 1.0, server.tail)
        server.wait_settled(instance, timeout=900, ticks=3)  # and the daemon launched nothing more

        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]))
        assert [r.tags.get("dagster/partition") for r in runs] == [bad]  # every other run succeeded
        assert bad in server.materialized(instance, "facebook", "raw_posts")
        assert bad not in server.materialized(instance, "facebook", "cleaned_posts")  # the gate held, then too

        store = LanceDBPostStore(settings.store_uri)
        assert store.count({"batch_id": bad}) == 0
        for platform, keys in batches().items():
            for batch in keys:
                found = instance.fetch_materializations(
                    AssetRecordsFilter(asset_key=AssetKey([platform, "raw_posts"]), asset_partitions=[batch]), limit=1
                ).records
                meta = {k: v.value for k, v in found[0].asset_materialization.metadata.items()}
                assert meta["rows_in"] == meta["rows_kept"] + meta["rows_quarantined"], (platform, batch, meta)
            lake = platform_status(settings.lake_base, platform)["posts"]
            assert lake > 0
            assert store.count({"platform": platform}) == lake, platform  # each post once, as in the lake
            assert store.duplicate_records({"platform": platform}) == 0


def _launch_like_the_ui(server, partition: str, assets: list[list[str]]) -> str:
    location = server.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")[
        "workspaceOrError"
    ]["locationEntries"][0]["name"]
    checks = server.graphql(
        """query($location: String!) { repositoryOrError(repositorySelector: {repositoryLocationName: $location,
        repositoryName: "__repository__"}) { ... on Repository { assetNodes { assetKey { path }
        assetChecksOrError { ... on AssetChecks { checks { name } } } } } } }""",
        {"location": location},
    )["repositoryOrError"]["assetNodes"]
    check_selection = [
        {"assetKey": {"path": node["assetKey"]["path"]}, "name": check["name"]}
        for node in checks
        if node["assetKey"]["path"] in assets
        for check in node["assetChecksOrError"].get("checks", [])
    ]
    launched = server.graphql(
        """mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {
            "params": {
                "selector": {
                    "repositoryLocationName": location, "repositoryName": "__repository__",
                    "pipelineName": "__ASSET_JOB", "assetSelection": [{"path": a} for a in assets],
                    "assetCheckSelection": check_selection,
                },
                "mode": "default",
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
            }
        },
    )["launchPipelineExecution"]  # fmt: skip
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _landed_partition(server, tmp_path: Path, name: str, posts: int = 30) -> str:
    settings = load_settings(env=server.env)
    export = generate_facebook_csv(tmp_path / name, posts, seed=len(name), dirty=False).path
    landed, _ = land_file(export, settings.landing_dir, "facebook")
    server.instance().add_dynamic_partitions("facebook_batches", [landed.partition_key])
    return landed.partition_key


@pytest.mark.daemon
def test_ui_launch_of_one_partition_then_eager_downstream(tmp_path):
    with dagster_dev(tmp_path) as server:
        partition = _landed_partition(server, tmp_path, "from_the_ui.csv")
        run_id = _launch_like_the_ui(server, partition, [["facebook", "raw_posts"], ["facebook", "quarantine"]])
        instance = server.instance()
        wait_until(
            "the eager assets downstream of the launched partition",
            lambda: partition in server.materialized(instance, "facebook", "post_collection"),
            600,
            log=server.tail,
        )
        follow_up = [
            r for r in instance.get_runs(RunsFilter(tags={"dagster/partition": partition})) if r.run_id != run_id
        ]
        assert follow_up and all(r.tags.get("dagster/from_automation_condition") == "true" for r in follow_up)


@pytest.mark.daemon
def test_killed_run_is_failed_by_the_daemon_and_the_next_run_of_its_batch_starts(tmp_path):
    with dagster_dev(tmp_path) as server:
        partition = _landed_partition(server, tmp_path, "killed.csv")
        assets = [["facebook", "raw_posts"], ["facebook", "quarantine"]]
        first = _launch_like_the_ui(server, partition, assets)
        instance = server.instance()
        pid = wait_until("the run worker's pid", lambda: run_pid(instance, first), 300, 0.2)
        os.kill(pid, signal.SIGKILL)
        wait_until(
            "the dead run marked failed",
            lambda: instance.get_run_by_id(first).status == DagsterRunStatus.FAILURE,
            300,
            log=server.tail,
        )
        second = _launch_like_the_ui(server, partition, assets)  # its queue slot is free again
        wait_until(
            "the next run of the batch to succeed",
            lambda: instance.get_run_by_id(second).status == DagsterRunStatus.SUCCESS,
            300,
            log=server.tail,
        )


@pytest.mark.daemon
def test_mlds_ingest_is_a_client_of_the_running_instance(tmp_path):
    """With `make dev` up, `mlds ingest` and `mlds enrich` launch as the UI does: their runs are queued by the
    instance's run coordinator and executed by the daemon's launcher in a process of its own, not in `mlds`'s."""
    import subprocess
    import sys

    from dagster import DagsterEventType

    export = generate_facebook_csv(tmp_path / "from_the_cli.csv", 60, seed=31, dirty=False).path
    with dagster_dev(tmp_path) as server:
        env = {**server.env, "MLDS__RUNS__WEBSERVER_URL": server.url}
        cli = subprocess.Popen(
            [sys.executable, "-m", "mlds_assets.cli", "ingest", str(export), "--platform", "facebook"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        out, err = cli.communicate(timeout=600)
        assert cli.returncode == 0, err[-3000:] + server.tail()
        outcome = json.loads(out)
        assert outcome["status"] == "ok" and outcome["launched"] == "webserver", outcome
        assert outcome["rows"] == {"in": 60, "kept": 60, "quarantined": 0}
        instance = server.instance()
        run = instance.get_run_by_id(outcome["run_id"])
        assert run.job_name == "facebook_fast_path" and run.tags["dagster/partition"] == outcome["batch"]
        assert instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_ENQUEUED)  # through the queue
        assert run_pid(instance, run.run_id) not in (None, cli.pid)  # the daemon's launcher ran it
        assert f"queued at {server.url}" in err

        enrich = subprocess.run(
            [sys.executable, "-m", "mlds_assets.cli", "enrich", "--only", "sentiment", "--platform", "facebook"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert enrich.returncode == 0, enrich.stdout + enrich.stderr[-3000:]
        [scored] = instance.get_runs(RunsFilter(job_name="facebook_sentiment", tags={"mlds/trigger": "mlds enrich"}))
        assert scored.status == DagsterRunStatus.SUCCESS and scored.tags["dagster/partition"] == outcome["batch"]
        assert instance.all_logs(scored.run_id, of_type=DagsterEventType.RUN_ENQUEUED)  # queued, like the UI's
