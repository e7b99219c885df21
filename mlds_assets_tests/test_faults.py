"""Faults survived: a run SIGKILLed in phase 1 and in phase 2, then run again (nothing lost, nothing
doubled); the post store failing mid-write (retried with backoff, then a clear failure; the lake intact and
`mlds store rebuild` restores the store); a full disk during a lake write (no half-written Parquet)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlds_assets.service.ingest import ingest
from mlds_assets.service.status import status
from mlds_assets.service.store import open_store
from mlds_assets.settings import load_settings
from mlds_assets.store.lancedb_store import LanceDBPostStore


def _killed_mlds(target: str, on_call: int, args: list[str], env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mlds_assets_tests.fault_hooks", target, str(on_call), "--", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _mlds(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlds_assets.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.fixture
def env(tmp_path, config_dir) -> dict:
    return {
        **os.environ,
        "MLDS_HOME": str(tmp_path / "home"),
        "MLDS_CONFIG": str(config_dir),
        "MLDS__PROCESSING__BATCH_SIZE": "25",
        "HF_HUB_OFFLINE": "1",
    }


def test_fast_path_killed_mid_run_is_run_again_and_finishes_exactly_once(env, config_dir, export):
    killed = _killed_mlds(
        "mlds_assets.assets.ingestion:extract_conservative_entities", 1,
        ["ingest", str(export), "--platform", "facebook"], env,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    settings = load_settings(config_dir, env={"MLDS_HOME": env["MLDS_HOME"]})
    lake = Path(settings.lake_base) / "facebook"
    assert (lake / "cleaned_posts").is_dir() and not (lake / "basic_metrics").exists()  # died in entities

    rerun = _mlds(["ingest", str(export), "--platform", "facebook"], env)
    assert rerun.returncode == 0 and "already ingested" not in rerun.stdout, rerun.stdout + rerun.stderr[-2000:]
    again = _mlds(["ingest", str(export), "--platform", "facebook"], env)
    assert "already ingested" in again.stdout

    [batch] = [p.stem for p in (lake / "raw_posts").glob("*.parquet")]
    raw = pd.read_parquet(lake / "raw_posts" / f"{batch}.parquet")
    assert len(raw) == 120 and raw["post_id"].is_unique
    for asset in ("cleaned_posts", "basic_metrics"):
        assert (lake / asset / f"{batch}.parquet").is_file()
    assert open_store(settings).count({"platform": "facebook"}) == 120
    assert not list(Path(settings.lake_base).rglob("*.tmp"))  # no half-written file left behind


def test_embeddings_killed_in_the_third_chunk_resume_and_embed_each_post_once(env, config_dir, export):
    assert _mlds(["ingest", str(export), "--platform", "facebook"], env).returncode == 0
    killed = _killed_mlds(
        "mlds_assets.assets.embeddings:embed_rows", 3, ["enrich", "--only", "embeddings", "--platform", "facebook"], env
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    settings = load_settings(config_dir, env={"MLDS_HOME": env["MLDS_HOME"]})
    [checkpoints] = (Path(settings.lake_base) / "_checkpoints" / "facebook" / "post_embeddings").iterdir()
    assert len(list(checkpoints.glob("chunk-*.parquet"))) == 2

    rerun = _mlds(["enrich", "--only", "embeddings", "--platform", "facebook"], env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-2000:]
    chunks = pd.concat([pd.read_parquet(p) for p in checkpoints.glob("chunk-*.parquet")])
    assert len(chunks) == 120 and chunks["post_id"].is_unique and chunks["run_id"].nunique() == 2
    vectors = pd.read_parquet(Path(settings.lake_base) / "facebook" / "post_embeddings" / f"{checkpoints.name}.parquet")
    assert len(vectors) == 120 and vectors["post_id"].is_unique
    assert open_store(settings).coverage("vector", {"platform": "facebook"}) == 1.0


class FlakyTable:
    """A LanceDB table whose merge_insert raises a disk error for its first `failures` executions."""

    def __init__(self, table, failures: int):
        self._table, self.failures, self.calls = table, failures, 0

    def __getattr__(self, name):
        return getattr(self._table, name)

    def merge_insert(self, on):
        builder = self._table.merge_insert(on)
        flaky = self

        class Builder:
            def __getattr__(self, name):
                attribute = getattr(builder, name)
                if name != "execute":
                    return lambda *a, **k: (attribute(*a, **k), self)[1]

                def execute(*args, **kwargs):
                    flaky.calls += 1
                    if flaky.calls <= flaky.failures:
                        raise OSError(errno.EIO, "Input/output error (injected)")
                    return attribute(*args, **kwargs)

                return execute

        return Builder()


def _records(n: int) -> pd.DataFrame:
    return pd.DataFrame({"post_id": [f"p{i}" for i in range(n)], "platform": "facebook", "text": "hello"})


def test_store_write_errors_are_retried_with_backoff(tmp_path):
    waits = []
    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=4, sleep=waits.append)
    store.upsert(_records(1))
    store._table = FlakyTable(store.table, failures=2)
    assert store.upsert(_records(5)) == 5
    assert waits == [0.5, 1.0] and store.count() == 5


def test_a_store_that_keeps_failing_is_a_clear_error_and_rebuild_restores_it(settings, instance, export, monkeypatch):
    batch = ingest(settings, export, "facebook", instance)["batch"]
    from mlds_assets.store import lancedb_store

    original = lancedb_store.LanceDBPostStore.upsert

    def failing(self, records):
        self._sleep = lambda seconds: None
        self._table = FlakyTable(self.table, failures=99)
        return original(self, records)

    monkeypatch.setattr(lancedb_store.LanceDBPostStore, "upsert", failing)
    from mlds_assets.service.enrich import enrich

    [outcome] = enrich(settings, "sentiment", "facebook", instance)
    assert outcome["status"] == "failed"
    assert any("upsert failed after 0 of 120 rows" in e and "injected" in e for e in outcome["errors"]), outcome
    scores = Path(settings.lake_base) / "facebook" / "sentiment_scores" / f"{batch}.parquet"
    assert len(pd.read_parquet(scores)) == 120  # the lake has the scores; only the store missed them

    monkeypatch.setattr(lancedb_store.LanceDBPostStore, "upsert", original)
    from mlds_assets.store.rebuild import rebuild_platform

    store = open_store(settings)
    assert rebuild_platform(store, settings.lake_base, "facebook") == 120
    assert open_store(settings).count({"platform": "facebook", "processing_status": "pending_semantic"}) == 120
    assert status(settings, instance)["platforms"]["facebook"]["sentiment_coverage"] == 1.0


def test_a_full_disk_during_a_lake_write_leaves_no_half_written_parquet(settings, instance, export, monkeypatch):
    import pyarrow.parquet as pq

    from mlds_assets import io_manager

    real_write = pq.write_table

    def disk_full(table, where, *args, **kwargs):
        if "cleaned_posts" in str(where):  # the IO manager's temp file beside cleaned_posts/<batch>.parquet
            with open(where, "wb") as handle:
                handle.write(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(table, where, *args, **kwargs)

    monkeypatch.setattr(io_manager.pq, "write_table", disk_full)
    outcome = ingest(settings, export, "facebook", instance)
    assert outcome["status"] == "failed"
    assert any("No space left on device" in e for e in outcome["errors"]), outcome
    cleaned = Path(settings.lake_base) / "facebook" / "cleaned_posts"
    assert not cleaned.exists() or not list(cleaned.iterdir())  # neither the file nor its temp
    monkeypatch.setattr(io_manager.pq, "write_table", real_write)

    retried = ingest(settings, export, "facebook", instance)  # space freed: the same file goes through
    assert retried["status"] == "ok", retried
    assert len(pd.read_parquet(cleaned / f"{retried['batch']}.parquet")) == 120


def test_a_second_mlds_on_a_batch_waits_for_the_run_already_on_it(env, config_dir, export, tmp_path, capsys):
    """No lock files: the instance knows which runs are working on a batch. A second `mlds ingest` of the same
    file, while the first one's run is mid-way, waits for that run and then finds the batch done."""
    import threading

    from mlds_assets.devserver import wait_until

    flags = tmp_path / "flags"
    flags.mkdir()
    entities = "mlds_assets.assets.ingestion:extract_conservative_entities"
    command = [
        sys.executable, "-m", "mlds_assets_tests.fault_hooks", entities, "hold", str(flags),
        "--", "ingest", str(export), "--platform", "facebook",
    ]  # fmt: skip
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until("the first run to be mid-way", lambda: (flags / "held").exists() or first.poll() is not None, 120)
        assert first.poll() is None, first.communicate()
        settings = load_settings(config_dir, env={"MLDS_HOME": env["MLDS_HOME"]})
        second: dict = {}
        waiting = threading.Thread(target=lambda: second.update(ingest(settings, export, "facebook")))
        waiting.start()
        said = lambda: "waiting for run" in capsys.readouterr().err  # noqa: E731
        wait_until("the second mlds to wait for the first run", said, 120)
        assert waiting.is_alive()  # it waits: it has not run the batch a second time
        (flags / "release").write_text("")
        out, err = first.communicate(timeout=300)
        waiting.join(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, err[-2000:]
    assert json.loads(out)["status"] == "ok"
    assert second["status"] == "already ingested", second
    store = open_store(settings)
    assert store.count({"platform": "facebook"}) == 120 and store.duplicate_records() == 0
    from dagster import DagsterInstance, RunsFilter

    runs = DagsterInstance.from_config(str(settings.dagster_home)).get_runs(RunsFilter(job_name="facebook_fast_path"))
    assert len(runs) == 1  # the batch ran once


def test_runs_the_daemon_launches_are_limited_to_one_per_batch(tmp_path):
    from dagster import DagsterInstance

    from mlds_assets.service.instance import DAGSTER_YAML

    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    instance = DagsterInstance.from_config(str(tmp_path))
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert instance.run_coordinator.dequeue_interval_seconds == 1  # queued runs start within a second, not five


def test_daily_report_killed_while_writing_is_written_whole_by_the_next_run(env, config_dir, export):
    assert _mlds(["ingest", str(export), "--platform", "facebook"], env).returncode == 0
    killed = _killed_mlds("mlds_assets.assets.analytics:write_report", 1, ["report"], env)
    assert killed.returncode == -9, killed.stderr[-2000:]
    settings = load_settings(config_dir, env={"MLDS_HOME": env["MLDS_HOME"]})
    assert not list(settings.reports_dir.rglob("report.html"))  # died before the page was written

    rerun = _mlds(["report"], env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-2000:]
    [report] = settings.reports_dir.rglob("report.html")
    assert report.read_text().rstrip().endswith("</html>")
    assert {p.name for p in report.parent.iterdir()} == {"report.html", "metrics.parquet", "metrics.csv"}
    metrics = pd.read_parquet(Path(settings.lake_base) / "facebook" / "platform_metrics.parquet")
    assert set(metrics["processing_level"]) == {"basic"}  # phase 1 only, labelled as such


def test_a_killed_mlds_ingest_leaves_no_started_run_behind(env, config_dir, export):
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.instance.ref import InstanceRef

    killed = _killed_mlds(
        "mlds_assets.assets.ingestion:extract_conservative_entities", 1,
        ["ingest", str(export), "--platform", "facebook"], env,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    home = Path(env["MLDS_HOME"]) / "dagster_home"
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        [orphan] = instance.get_runs()
        assert orphan.status == DagsterRunStatus.STARTED and orphan.tags["mlds/pid"].isdigit()

    assert _mlds(["status"], env).returncode == 0  # the next mlds command sees the dead process

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        run = instance.get_run_by_id(orphan.run_id)
        assert run.status == DagsterRunStatus.FAILURE
        assert instance.get_runs_count() == 1
        assert orphan.run_id not in instance.event_log_storage.get_concurrency_run_ids()  # its pool slots freed
