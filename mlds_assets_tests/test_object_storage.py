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
