"""`mlds batch drop`: a batch retired with its partition, lake files, landed file and store records, recorded;
posts another batch also holds stay. And `mlds ingest --mode full` exits non-zero when phase 2 fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlds_assets.cli import main
from mlds_assets.service.enrich import enrich
from mlds_assets.service.errors import BatchError
from mlds_assets.service.ingest import drop_batch, ingest
from mlds_assets.service.status import status, store_disagreements
from mlds_assets.service.store import open_store
from mlds_assets.settings import load_settings
from mlds_assets_tests.conftest import write_platform
from mlds_assets_tests.test_bad_input_corpus import CORPUS_PLATFORM, HEADER


@pytest.fixture
def corpus(tmp_path, config_dir):
    write_platform(config_dir, "corpus", CORPUS_PLATFORM)
    return load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / "home")})


def _write(path: Path, rows: str) -> Path:
    path.write_text(HEADER + rows)
    return path


def test_drop_removes_the_batch_and_keeps_posts_other_batches_hold(corpus, instance, tmp_path):
    first = ingest(corpus, _write(tmp_path / "a.csv", "1,a,2024-01-01T10:00:00Z,1\n2,b,2024-01-02T10:00:00Z,1\n"),
                   "corpus", instance)["batch"]  # fmt: skip
    second_file = _write(tmp_path / "b.csv", "2,b again,2024-01-02T10:00:00Z,5\n3,c,2024-01-03T10:00:00Z,1\n")
    second = ingest(corpus, second_file, "corpus", instance)["batch"]
    assert open_store(corpus).count({"batch_id": second}) == 2

    dropped = drop_batch(corpus, "corpus", second, instance)

    assert dropped["store_removed"] == 2 and dropped["store_restored"] == 1  # post 2 is still in batch a
    assert instance.get_dynamic_partitions("corpus_batches") == [first]
    lake = Path(corpus.lake_base) / "corpus"
    assert not list(lake.glob(f"*/{second}.parquet")) and list(lake.glob(f"*/{first}.parquet"))
    assert not list((corpus.landing_dir / "corpus").glob(f"{second}*"))
    stored = open_store(corpus).fetch({"platform": "corpus"}, limit=10)
    assert sorted(stored["native_id"]) == ["1", "2"] and set(stored["batch_id"]) == {first}
    assert store_disagreements(corpus, status(corpus, instance)) == []
    [entry] = [json.loads(line) for line in (corpus.home / "batch_drops.log").read_text().splitlines()]
    assert (entry["platform"], entry["batch"], entry["partition_deleted"]) == ("corpus", second, True)
    assert sorted(Path(f).parent.name for f in entry["lake_files"]) == [
        "basic_metrics", "cleaned_posts", "conservative_entities", "quarantine", "raw_posts"
    ]  # fmt: skip
    assert len(entry["landing_files"]) == 2

    again = ingest(corpus, second_file, "corpus", instance)  # deliberately again: a new run, not "already ingested"
    assert again["status"] == "ok" and again["batch"] == second
    assert open_store(corpus).count({"platform": "corpus"}) == 3


def test_a_rejected_file_keeps_enrich_failing_until_its_batch_is_dropped(corpus, instance, tmp_path):
    ingest(corpus, _write(tmp_path / "good.csv", "1,a,2024-01-01T10:00:00Z,1\n"), "corpus", instance)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,no created_at column\n")
    rejected = ingest(corpus, bad, "corpus", instance)
    assert rejected["status"] == "failed"
    assert any(o["status"] == "failed" for o in enrich(corpus, "sentiment", "corpus", instance))

    drop_batch(corpus, "corpus", rejected["batch"], instance)
    outcomes = enrich(corpus, "sentiment", "corpus", instance)
    assert [o["status"] for o in outcomes] == ["ok"]


def test_dropping_an_unknown_batch_names_it(corpus, instance):
    with pytest.raises(BatchError, match="corpus has no batch 'nope'"):
        drop_batch(corpus, "corpus", "nope", instance)


@pytest.fixture
def cli_home(tmp_path, config_dir, monkeypatch) -> Path:
    write_platform(config_dir, "corpus", CORPUS_PLATFORM)
    monkeypatch.setenv("MLDS_CONFIG", str(config_dir))
    monkeypatch.setenv("MLDS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path / "home"


def test_batch_drop_from_the_command_line(cli_home, tmp_path, capsys):
    path = _write(tmp_path / "a.csv", "1,a,2024-01-01T10:00:00Z,1\n")
    assert main(["ingest", str(path), "--platform", "corpus"]) == 0
    batch = json.loads(capsys.readouterr().out)["batch"]
    assert main(["batch", "drop", "corpus", batch]) == 0
    assert f"corpus batch {batch} dropped" in capsys.readouterr().out
    assert main(["batch", "drop", "corpus", batch]) == 2
    assert "corpus has no batch" in capsys.readouterr().err


def test_full_mode_exits_non_zero_when_phase_two_fails(cli_home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLDS__SENTIMENT__ENGINE", "no_such_module:Engine")
    path = _write(tmp_path / "a.csv", "1,a,2024-01-01T10:00:00Z,1\n")
    assert main(["ingest", str(path), "--platform", "corpus", "--mode", "full"]) == 1
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["status"] == "ok" and outcome["phase2"]["status"] == "failed"
