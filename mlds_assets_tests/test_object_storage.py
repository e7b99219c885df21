"""The lake on object storage: the fast path with `lake_path: s3://...` against a local S3-compatible server
(moto's, from PyPI), through the same UPath code as a local folder: the IO manager's writes, the raw gates'
reads, the post store's sync; then `mlds status` and the daily analytics, DuckDB reading the same files
through fsspec."""

from __future__ import annotations

import socket

import pandas as pd
import pytest

from mlds_assets.service.ingest import ingest
from mlds_assets.service.store import open_store
from mlds_assets.settings import load_settings


@pytest.fixture(scope="module")
def s3_server():
    moto_server = pytest.importorskip("moto.server", reason="moto[server] provides the local S3 server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server,  # botocore, and so s3fs, read it
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="mlds-lake")
    import fsspec

    fsspec.config.conf.pop("s3", None)
    return s3_server


def test_fast_path_writes_and_reads_the_lake_on_s3(s3_env, tmp_path, config_dir, instance, export):
    import s3fs

    settings = load_settings(
        config_dir, env={"MLDS_HOME": str(tmp_path / "home"), "MLDS__LAKE_PATH": "s3://mlds-lake/lake"}
    )
    outcome = ingest(settings, export, "facebook", instance)
    assert outcome["status"] == "ok", outcome

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_env})
    fs.invalidate_cache()
    batch = outcome["batch"]
    for asset in ("raw_posts", "cleaned_posts", "conservative_entities", "basic_metrics", "quarantine"):
        assert fs.exists(f"mlds-lake/lake/facebook/{asset}/{batch}.parquet"), asset
    with fs.open(f"mlds-lake/lake/facebook/raw_posts/{batch}.parquet", "rb") as handle:
        assert len(pd.read_parquet(handle)) == 120
    assert not (tmp_path / "home" / "lake").exists()  # nothing fell back to a local folder
    assert open_store(settings).count({"platform": "facebook"}) == 120


def test_status_and_analytics_read_the_lake_on_s3(s3_env, tmp_path, config_dir, instance, export):
    from mlds_assets.core.analytics import LakeFiles, connect, scope_metrics
    from mlds_assets.core.status import platform_status

    settings = load_settings(
        config_dir, env={"MLDS_HOME": str(tmp_path / "home"), "MLDS__LAKE_PATH": "s3://mlds-lake/lake2"}
    )
    outcome = ingest(settings, export, "facebook", instance)
    assert outcome["status"] == "ok", outcome

    status = platform_status(settings.lake_base, "facebook")
    assert status["posts"] == 120 and status["entities"] > 0
    assert status["last_ingested_at"] is not None
    metrics = scope_metrics(connect(LakeFiles(settings.lake_base, ("facebook", "instagram"))), "facebook")
    posts = metrics.loc[(metrics["metric"] == "posts") & (metrics["key"] == ""), "value"]
    assert posts.tolist() == [120.0]
    assert not (tmp_path / "home" / "lake").exists()


@pytest.mark.daemon
def test_runs_launched_elsewhere_read_only_shared_storage(s3_env, tmp_path):
    """The deployment's claim, on one machine: `dagster dev` (daemon, code server, run workers) with its own
    MLDS_HOME and working directory stands for the cluster; `mlds ingest` from another MLDS_HOME and working
    directory (a laptop) lands a file and launches its run there; a file put straight into the inbox on S3 is
    found by the sensor, landed by a run and ingested. Inbox, landing area, lake and reports are on moto's S3
    server; the post store is one shared folder (Weaviate on a cluster). Neither side's MLDS_HOME ends up with
    an inbox, landing area, lake or reports: no run read or wrote the other process's (or its own) disk."""
    import json
    import os
    import subprocess
    import sys

    import s3fs
    from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

    from mlds_assets.demo.exports import generate_facebook_csv, generate_instagram_json
    from mlds_assets.devserver import dagster_dev, wait_until
    from mlds_assets.landing_job import LANDING_JOB

    bucket = "mlds-lake/deploy"
    shared = {
        **{name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")},
        "AWS_ENDPOINT_URL": s3_env,
        **{f"MLDS__{place.upper()}_PATH": f"s3://{bucket}/{place}" for place in ("lake", "inbox", "landing")},
        "MLDS__REPORTS_PATH": f"s3://{bucket}/reports",
        "MLDS__STORE__URI": str(tmp_path / "shared" / "store"),
    }
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_env})
    cluster_cwd, laptop = tmp_path / "cluster_cwd", tmp_path / "laptop"
    cluster_cwd.mkdir()
    (laptop / "exports").mkdir(parents=True)
    with dagster_dev(tmp_path / "cluster", extra_env=shared, cwd=cluster_cwd) as server:
        export = generate_facebook_csv(laptop / "exports" / "from_a_laptop.csv", 60, seed=41, dirty=False).path
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "MLDS_CONFIG")}, **shared,
            "MLDS_HOME": str(laptop / "home"), "MLDS__INSTANCE_DIR": str(server.home / "dagster_home"),
            "MLDS__RUNS__WEBSERVER_URL": server.url,
        }  # fmt: skip
        cli = subprocess.run(
            [sys.executable, "-m", "mlds_assets.cli", "ingest", str(export), "--platform", "facebook"],
            env=env, cwd=laptop, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr[-3000:] + server.tail()
        outcome = json.loads(cli.stdout)
        assert outcome["status"] == "ok" and outcome["launched"] == "webserver", outcome
        assert outcome["rows"] == {"in": 60, "kept": 60, "quarantined": 0}
        instance = server.instance()
        assert instance.all_logs(outcome["run_id"], of_type=DagsterEventType.RUN_ENQUEUED)  # the daemon ran it

        dropped = tmp_path / "dropped.json"
        generate_instagram_json(dropped, 40, seed=43, dirty=False)
        fs.put_file(str(dropped), f"{bucket}/inbox/instagram/dropped.json")
        dropped.unlink()  # the only copy is on S3 now
        wait_until(
            "the file put in the S3 inbox landed by a run and in the store",
            lambda: bool(server.materialized(instance, "instagram", "post_collection")),
            600,
            log=server.tail,
        )

        [landing] = instance.get_runs(RunsFilter(job_name=LANDING_JOB))
        assert landing.status == DagsterRunStatus.SUCCESS
        [batch] = instance.get_dynamic_partitions("instagram_batches")
        fs.invalidate_cache()
        for platform, key in (("facebook", outcome["batch"]), ("instagram", batch)):
            assert fs.exists(f"{bucket}/landing/{platform}/{key}.landed.json")
            assert fs.exists(f"{bucket}/lake/{platform}/raw_posts/{key}.parquet")
        sidecar = json.loads(fs.cat_file(f"{bucket}/landing/instagram/{batch}.landed.json"))
        assert sidecar["via"] == "inbox" and sidecar["source_path"].startswith("s3://")
        settings = load_settings(env={**shared, "MLDS_HOME": str(tmp_path / "reader")})
        store = open_store(settings)
        assert store.count({"platform": "facebook"}) == 60 and store.count({"platform": "instagram"}) > 0

    for home in (laptop / "home", server.home):
        assert not [name for name in ("inbox", "landing", "lake", "reports") if (home / name).exists()], home


def test_topic_models_trained_models_and_reports_live_on_s3(s3_env, tmp_path, config_dir):
    """What a run pod writes beside the lake: a topic model (published whole, then its pointer), a trained
    sentiment model (found and loaded by another process's engine) and the day's report, all on S3."""
    import s3fs

    from mlds_assets.core import upaths
    from mlds_assets.core.embeddings import load_sentence_encoder
    from mlds_assets.core.report import write_report
    from mlds_assets.core.sentiment import build_engine
    from mlds_assets.core.sentiment_training import gold_set
    from mlds_assets.core.topics import TopicParams, assign_topics, current_fit, fit_topics, load_model, prune_fits
    from mlds_assets.core.topics import save_model as save_topic_model
    from mlds_assets.service.models import train_sentiment
    from mlds_assets_tests.core.test_sentiment_training import _toy_gold
    from mlds_assets_tests.topic_fixtures import themed_posts, vectors_for

    env = {"MLDS_HOME": str(tmp_path / "home"), "MLDS__MODELS_PATH": "s3://mlds-lake/models",
           "MLDS__REPORTS_PATH": "s3://mlds-lake/reports"}  # fmt: skip
    settings = load_settings(config_dir, env=env)
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_env})

    encoder = load_sentence_encoder(None)
    posts = themed_posts(40)
    params = TopicParams(seed=7, min_topic_size=8, umap_neighbors=10)
    fitted = fit_topics(posts, vectors_for(posts, encoder), params, "f1")
    folder = settings.models_dir / "topics" / "facebook"
    for fit_id in ("fit-1", "fit-2"):
        save_topic_model(fitted.model, folder, fit_id, {"scope": "facebook"})
    fs.invalidate_cache()
    assert fs.exists("mlds-lake/models/topics/facebook/fit-2/fit.json")
    assert current_fit(folder)["fit_id"] == "fit-2"
    upaths._DOWNLOADED.clear()  # as a fresh run process: nothing downloaded yet
    new = themed_posts(5, seed=99, prefix="new")
    assigned = assign_topics(load_model(current_fit(folder)["path"]), new, vectors_for(new, encoder), "fit-2", 0.3)
    assert len(assigned) == len(new)
    assert prune_fits(folder, keep=1) == ["fit-1"]
    fs.invalidate_cache()
    assert not fs.exists("mlds-lake/models/topics/facebook/fit-1")

    trained, meta = train_sentiment(settings, gold_set(_toy_gold(), "text", "label", "toy.csv"))
    assert str(trained).startswith("s3://") and fs.exists(f"{str(trained)[5:]}/model.json")
    upaths._DOWNLOADED.clear()
    engine = build_engine("embedding-classifier", settings.sentiment, settings.models_dir)  # finds the newest on S3
    assert engine.version == meta["version"]
    assert not (tmp_path / "home" / "models").exists()

    metrics = pd.DataFrame({"metric": ["posts"], "key": [""], "value": [1.0]}).assign(
        scope="facebook", processing_level="full", sentiment_coverage=1.0, semantic_coverage=1.0
    )
    cross = metrics.assign(scope="cross_platform")
    files = write_report(settings.reports_dir / "2026-11-30", {"facebook": metrics}, cross, pd.Timestamp.now(), 5)
    fs.invalidate_cache()
    assert sorted(fs.ls("mlds-lake/reports/2026-11-30")) == [
        f"mlds-lake/reports/2026-11-30/{name}" for name in ("metrics.csv", "metrics.parquet", "report.html")
    ]
    assert "<html" in files["html"].read_text()
    assert not (tmp_path / "home" / "reports").exists()
