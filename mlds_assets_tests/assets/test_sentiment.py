"""sentiment_scores through Dagster: pending posts only, resumable after kill -9, versioned, scheduled. What
`mlds ingest` / `mlds enrich` runs do is tested `launched` (their own `dagster dev`); a change of config for
the runs goes into the config files, where the run workers read it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, evaluate_automation_conditions

from mlds_assets.core.landing import land_file
from mlds_assets.definitions import build_definitions
from mlds_assets.launch_settings import RUN_TAG
from mlds_assets.service.enrich import enrich
from mlds_assets.service.ingest import ingest
from mlds_assets.service.runs import run_job
from mlds_assets.service.status import status
from mlds_assets.service.store import open_store
from mlds_assets.settings import load_settings
from mlds_assets_tests.conftest import set_config
from mlds_assets_tests.lake_reading import automation_runs, lake, latest_metadata

SENTIMENT = AssetKey(["facebook", "sentiment_scores"])


@pytest.mark.launched
def test_enrich_scores_every_post_and_the_store_and_status_pick_it_up(
    settings, settings_env, config_dir, instance, export, settle
):
    """Also `mlds api`, up the whole time as a dashboard polling it would be: its /platforms (counts it keeps
    until the store takes a commit) shows what each launched run wrote at the next request, no restart."""
    import httpx

    from benchmarks.api_load import served_api

    with served_api({**settings_env, "MLDS_CONFIG": str(config_dir)}) as url:

        def served() -> dict:
            return httpx.get(f"{url}/platforms", timeout=60).raise_for_status().json()["platforms"]["facebook"]

        assert served()["posts"] == 0
        batch = ingest(settings, export, "facebook", instance)["batch"]
        settle()
        assert status(settings, instance)["platforms"]["facebook"]["pending_sentiment"] == 120
        assert (served()["posts"], served()["pending_sentiment"]) == (120, 120)

        [outcome, *_] = enrich(settings, "sentiment", "facebook", instance)
        assert outcome["status"] == "ok" and outcome["launched"] == "webserver", outcome
        settle()  # the metrics and the store after the scores: the daemon's automation sensor launches them
        after = served()
    assert "sentiment_coverage" not in outcome["checks_failed"]

    scores = lake(settings, "sentiment_scores", batch)
    assert len(scores) == 120 and scores["post_id"].is_unique
    assert set(scores["post_id"]) == set(lake(settings, "cleaned_posts", batch)["post_id"])
    assert scores["sentiment_score"].between(-1, 1).all()
    assert set(scores["engine"]) == {"minilm-finetuned"}  # the default engine
    meta = latest_metadata(instance, SENTIMENT)
    assert meta["engine"] == "minilm-finetuned" and meta["coverage"] == 1.0 and meta["scored_this_run"] == 120

    metrics = lake(settings, "basic_metrics", batch)
    assert set(metrics["processing_level"]) == {"sentiment_complete"}  # recomputed with the scores
    assert metrics.loc[metrics["metric"] == "sentiment_coverage", "value"].tolist() == [1.0]

    store = open_store(settings)
    assert store.count({"platform": "facebook", "processing_status": "pending_semantic"}) == 120  # vectors next
    negative = store.count({"platform": "facebook", "sentiment_label": "negative"})
    assert negative == int((scores["sentiment_label"] == "negative").sum())
    report = status(settings, instance)["platforms"]["facebook"]
    assert report["pending_sentiment"] == 0 and report["sentiment_coverage"] == 1.0
    shared = after.keys() & report.keys()  # the API's /platforms has no batch counts (the instance's)
    assert {"posts", "pending_sentiment", "sentiment_coverage"} <= shared
    assert {key: after[key] for key in shared} == {key: report[key] for key in shared}


@pytest.mark.launched
def test_changing_the_model_version_requeues_exactly_the_affected_posts(
    settings, settings_env, config_dir, reload_settings, instance, export, dev_server
):
    assert ingest(settings, export, "facebook", instance)["launched"] == "webserver"
    enrich(settings, "sentiment", "facebook", instance)
    enrich(settings, "sentiment", "facebook", instance)
    assert latest_metadata(instance, SENTIMENT)["scored_this_run"] == 0  # nothing pending: nothing scored

    # the runs `mlds` sent (tagged with its settings), not those the daemon's automation starts meanwhile
    def sent_by_mlds() -> list[str]:
        return [run.run_id for run in instance.get_runs() if RUN_TAG in run.tags]

    runs_before = len(sent_by_mlds())

    # `MLDS__SENTIMENT__MODEL_VERSION=2 mlds enrich`: the run worker has make dev's settings, not the shell's;
    # it refuses to start rather than score nothing under version 1 and report success
    shell_only = load_settings(config_dir, env={**settings_env, "MLDS__SENTIMENT__MODEL_VERSION": "2"})
    [refused] = enrich(shell_only, "sentiment", "facebook", instance)
    assert refused["status"] == "failed" and refused["launched"] == "webserver", refused
    [error] = refused["errors"]
    assert "other settings than this run worker in: sentiment." in error
    assert "MLDS__SENTIMENT__MODEL_VERSION" in error and "MLDS__RUNS__LAUNCH=in_process" in error
    assert len(sent_by_mlds()) == runs_before + 1  # the refused run, failed, shown in the UI
    assert refused["run_id"] in sent_by_mlds()
    assert latest_metadata(instance, SENTIMENT)["model_version"].endswith("#1")  # nothing written

    set_config(config_dir, "sentiment.model_version", "2")
    # the run's worker reads the file anyway; the webserver and the daemon see the new code version after a
    # reload, as the UI's "Reload definitions" does it
    dev_server.reload_definitions()
    bumped = reload_settings()
    [outcome] = enrich(bumped, "sentiment", "facebook", instance)
    assert outcome["status"] == "ok" and outcome["launched"] == "webserver", outcome
    meta = latest_metadata(instance, SENTIMENT)
    assert meta["scored_this_run"] == 120 and meta["kept_from_last_run"] == 0
    assert meta["model_version"].endswith("#2")


def _mlds(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlds_assets.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_kill_9_during_the_third_chunk_then_rerun_scores_every_post_exactly_once(tmp_path, config_dir, export):
    env = {
        **os.environ,
        "MLDS_HOME": str(tmp_path / "home"),
        "MLDS_CONFIG": str(config_dir),
        "MLDS__PROCESSING__BATCH_SIZE": "25",  # 120 posts: chunks of 25, 25, 25, 25, 20
        "HF_HUB_OFFLINE": "1",
    }
    assert _mlds(["ingest", str(export), "--platform", "facebook"], env).returncode == 0

    killer = {**env, "MLDS__SENTIMENT__ENGINE": "mlds_assets_tests.sentiment_fixtures:KillDuringThirdChunk"}
    killed = _mlds(["enrich", "--only", "sentiment", "--platform", "facebook"], killer)
    assert killed.returncode == -9, killed.stderr[-2000:]

    settings = load_settings(config_dir, env={"MLDS_HOME": env["MLDS_HOME"]})
    [batch_dir] = (Path(settings.lake_base) / "_checkpoints" / "facebook" / "sentiment_scores").iterdir()
    assert len(list(batch_dir.glob("chunk-*.parquet"))) == 2  # chunks 1 and 2 finished; 3 died mid-way
    assert not (Path(settings.lake_base) / "facebook" / "sentiment_scores").exists()

    vader = {**env, "MLDS__SENTIMENT__ENGINE": "vader"}  # the killer's name and version: the re-run resumes
    rerun = _mlds(["enrich", "--only", "sentiment", "--platform", "facebook"], vader)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-2000:]

    chunks = pd.concat([pd.read_parquet(p) for p in sorted(batch_dir.glob("chunk-*.parquet"))])
    assert len(chunks) == 120 and chunks["post_id"].is_unique  # the checkpoint: each post scored once
    assert chunks["run_id"].nunique() == 2  # 50 by the killed run, 70 by the re-run
    scores = lake(settings, "sentiment_scores", batch_dir.name)
    assert len(scores) == 120 and scores["post_id"].is_unique  # coverage 100%, no duplicates
    store = open_store(settings)
    assert store.count({"platform": "facebook"}) == 120
    assert store.count({"platform": "facebook", "processing_status": "pending_semantic"}) == 120  # vectors next

    from mlds_assets.service.instance import dagster_instance

    meta = latest_metadata(dagster_instance(settings), SENTIMENT)
    assert (meta["resumed_from_checkpoint"], meta["scored_this_run"]) == (50, 70)


def _evaluate(defs, instance, when: datetime, cursor=None):
    return evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=when, cursor=cursor)


def test_fast_mode_scores_pending_batches_at_the_platform_schedule(settings, instance, export):
    """Dagster's evaluator at set times (the daemon's own clock cannot be set): in process."""
    batch = ingest(settings, export, "facebook", instance)["batch"]
    defs = build_definitions(settings)  # facebook sentiment at "0 2 * * *" UTC
    before = _evaluate(defs, instance, datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc))
    assert before.get_requested_partitions(SENTIMENT) == set()
    at_tick = _evaluate(defs, instance, datetime(2026, 11, 28, 2, 1, tzinfo=timezone.utc), before.cursor)
    assert at_tick.get_requested_partitions(SENTIMENT) == {batch}
    later = _evaluate(defs, instance, datetime(2026, 11, 28, 2, 2, tzinfo=timezone.utc), at_tick.cursor)
    assert later.get_requested_partitions(SENTIMENT) == set()  # once per tick


@pytest.fixture
def facebook_full_mode(config_dir):
    """facebook in `full` mode, in the config `dagster dev` starts with (request it before `settings`)."""
    set_config(config_dir, "processing_mode", "full", "platforms/facebook.yaml")


@pytest.mark.launched
def test_full_mode_scores_right_after_phase_1(facebook_full_mode, settings, instance, export, settle):
    """Only phase 1 is launched (as the UI launches a job); the daemon's automation sensor scores the batch
    right after it, and no other batch."""
    landed, _ = land_file(export, settings.landing_dir, "facebook")
    instance.add_dynamic_partitions(settings.platform("facebook").partitions_name, [landed.partition_key])
    phase1 = run_job(settings, instance, "facebook_fast_path", landed.partition_key)
    assert phase1["status"] == "ok" and phase1["launched"] == "webserver", phase1
    settle()
    automated = automation_runs(instance, SENTIMENT, phase1["run_id"])
    partitions = {instance.get_run_by_id(run["run_id"]).tags.get("dagster/partition") for run in automated}
    assert partitions == {landed.partition_key}
    assert all(run["status"] != "failed" for run in automated)  # each run succeeded
    assert len(lake(settings, "sentiment_scores", landed.partition_key)) == 120


@pytest.mark.launched
def test_mlds_ingest_in_full_mode_runs_sentiment_and_embeddings_too(settings, instance, export, settle):
    outcome = ingest(settings, export, "facebook", instance, mode="full")
    assert outcome["launched"] == "webserver"
    assert outcome["phase2"]["status"] == "ok" and set(outcome["phase2"]["stages"]) == {"sentiment", "embeddings"}
    assert {stage["launched"] for stage in outcome["phase2"]["stages"].values()} == {"webserver"}
    settle()
    assert len(lake(settings, "sentiment_scores", outcome["batch"])) == 120
    assert len(lake(settings, "post_embeddings", outcome["batch"])) == 120
    store = open_store(settings)
    assert store.count({"platform": "facebook", "processing_status": "complete"}) == 120


def test_sentiment_asset_shows_its_schedule_and_freshness_in_the_ui(settings):
    defs = build_definitions(settings)
    spec = defs.resolve_assets_def(SENTIMENT).specs_by_key[SENTIMENT]
    assert "0 2 * * *" in spec.automation_condition.get_label()
    assert spec.freshness_policy.deadline_cron == "0 2 * * *"
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys if c.asset_key == SENTIMENT}
    assert checks == {"sentiment_coverage"}


def test_coverage_gate_fails_at_or_below_the_threshold():
    from mlds_assets.assets.sentiment import coverage_result

    posts = pd.DataFrame({"post_id": [f"p{i}" for i in range(100)]})
    scores = pd.DataFrame({"post_id": [f"p{i}" for i in range(96)], "sentiment_label": "neutral"})
    assert coverage_result(scores, posts, 0.95).passed
    short = scores.iloc[:95]
    result = coverage_result(short, posts, 0.95)
    assert not result.passed and result.severity.value == "ERROR"
    assert result.metadata["coverage"].value == 0.95
    assert coverage_result(scores.iloc[:0], posts.iloc[:0], 0.95).passed  # an empty batch has nothing to miss


@pytest.fixture
def backlog_warn_100(config_dir):
    """sentiment.backlog_warn 100 in the config `dagster dev` starts with (request it before `settings`)."""
    set_config(config_dir, "sentiment.backlog_warn", 100)


@pytest.mark.launched
def test_backlog_warns_without_failing_ingestion(backlog_warn_100, settings, instance, export, settle):
    outcome = ingest(settings, export, "facebook", instance)
    assert outcome["status"] == "ok" and outcome["checks_warned"] == ["sentiment_backlog"]
    assert outcome["launched"] == "webserver"
    [after] = enrich(settings, "sentiment", "facebook", instance)
    assert after["status"] == "ok" and after["checks_warned"] == []  # the store re-synced: no backlog left
    settle()
    assert status(settings, instance)["platforms"]["facebook"]["pending_sentiment"] == 0
