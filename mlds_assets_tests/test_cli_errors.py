"""Issue 15, item 15: what used to end in a raw traceback is one line naming what is wrong and a non-zero
exit (or a 4xx from the API)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import sqlalchemy.exc

from mlds_assets.cli import main
from mlds_assets.service.ingest import ingest
from mlds_assets.settings import load_settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MLDS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path / "home"


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("status_id,status_message,status_published,num_likes\n1_1,hello,2024-03-01 10:00:00,1\n")
    return path


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_a_file_of_an_unknown_type(home, capsys):
    assert main(["ingest", "/etc/hostname", "--platform", "facebook"]) == 2
    assert "hostname: unknown file type ''" in one_line_error(capsys)


def test_an_unreadable_file(home, export, monkeypatch, capsys):
    real_open = Path.open

    def unreadable(path, mode="r", *args, **kwargs):  # root reads anything: the test makes the file unreadable
        if path == export:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", unreadable)
    assert main(["ingest", str(export), "--platform", "facebook"]) == 2
    assert one_line_error(capsys) == f"mlds: {export}: cannot read it: Permission denied"


def test_a_full_disk_while_landing(home, export, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["ingest", str(export), "--platform", "facebook"]) == 2
    line = one_line_error(capsys)
    assert "landing/facebook: cannot write the landed copy: No space left on device" in line


def test_the_same_content_under_two_names_at_once(settings, instance, export, tmp_path, monkeypatch):
    """Both landers see no partition, both add it; Dagster checks, then inserts, so one gets an IntegrityError."""
    real_add = instance.add_dynamic_partitions

    def racing_add(name, keys):
        real_add(name, keys)  # the other process got there first
        raise sqlalchemy.exc.IntegrityError("INSERT INTO dynamic_partitions", {}, Exception("UNIQUE constraint"))

    monkeypatch.setattr(instance, "add_dynamic_partitions", racing_add)
    outcome = ingest(settings, export, "facebook", instance)
    assert outcome["status"] == "ok", outcome


@pytest.mark.parametrize("limit", ["1000000000000", "0", "-1", "ten"])
def test_search_limits_out_of_range(home, limit, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["search", "x", "--limit", limit])
    assert exited.value.code == 2
    assert "--limit" in capsys.readouterr().err


def test_a_corrupt_encoder_for_a_semantic_search(home, tmp_path, monkeypatch, capsys):
    import shutil

    from mlds_assets.core.embeddings import default_embedding_model

    broken = tmp_path / "broken_minilm"
    shutil.copytree(default_embedding_model(), broken, ignore=shutil.ignore_patterns("model.safetensors"))
    (broken / "model.safetensors").write_bytes(b"not a model")
    monkeypatch.setenv("MLDS__EMBEDDINGS__MODEL", str(broken))
    assert main(["search", "shoes", "--mode", "semantic"]) == 2
    line = one_line_error(capsys)
    assert "could not be loaded" in line and str(broken) in line


def test_an_unreachable_weaviate(home, monkeypatch, capsys):
    monkeypatch.setenv("MLDS__STORE__BACKEND", "weaviate")
    monkeypatch.setenv("MLDS__STORE__WEAVIATE__HOST", "127.0.0.1")
    monkeypatch.setenv("MLDS__STORE__WEAVIATE__PORT", "9")  # discard: nothing listens
    monkeypatch.setenv("MLDS__STORE__WEAVIATE__GRPC_PORT", "13")
    assert main(["status"]) == 2
    assert "Weaviate at 127.0.0.1:9 (local mode, config store.weaviate) is unreachable" in one_line_error(capsys)


def test_the_api_answers_a_huge_topic_with_422(tmp_path):
    from fastapi.testclient import TestClient

    from mlds_assets.api import create_app

    settings = load_settings(env={"MLDS_HOME": str(tmp_path / "home")})
    client = TestClient(create_app(settings))
    response = client.get("/posts/search", params={"q": "x", "topic": "99999999999999999999"})
    assert response.status_code == 422
    assert "topic" in response.text


# --- item 12: an empty API key fails closed; beyond loopback without a key needs --insecure ----------


def test_an_empty_api_key_serves_no_data(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from mlds_assets.api import create_app

    monkeypatch.setenv("MLDS_API_KEY", "")
    client = TestClient(create_app(load_settings(env={"MLDS_HOME": str(tmp_path / "home")})))
    response = client.get("/platforms")
    assert response.status_code == 503 and "MLDS_API_KEY is set but empty" in response.text
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("key", "args", "message"),
    [
        ("", [], "MLDS_API_KEY is set but empty"),
        (None, ["--host", "0.0.0.0"], "binding to 0.0.0.0 without a key serves every post to the network"),
    ],
)
def test_mlds_api_refuses_to_start_open(home, monkeypatch, capsys, key, args, message):
    if key is None:
        monkeypatch.delenv("MLDS_API_KEY", raising=False)
    else:
        monkeypatch.setenv("MLDS_API_KEY", key)
    assert main(["api", *args]) == 2  # refused before any server starts
    assert message in one_line_error(capsys)


def test_insecure_binding_is_allowed_with_a_warning(tmp_path):
    from mlds_assets.api import check_exposure

    settings = load_settings(env={"MLDS_HOME": str(tmp_path / "home")})
    [warning] = check_exposure(settings, "0.0.0.0", insecure=True, env={})
    assert "without a key" in warning and "--insecure" in warning
    assert check_exposure(settings, "0.0.0.0", insecure=False, env={"MLDS_API_KEY": "s3cret"}) == []
    assert check_exposure(settings, "127.0.0.1", insecure=False, env={}) == []
