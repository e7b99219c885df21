"""The lake's status of a platform is read with DuckDB once per state of its files: a dashboard polling
/platforms gets it from memory until a batch is written, replaced or dropped."""

from __future__ import annotations

import os

import pandas as pd

from mlds_assets.core import status


def _write(lake, asset: str, batch: str, frame: pd.DataFrame) -> None:
    folder = lake / "facebook" / asset
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{batch}.tmp"
    frame.to_parquet(tmp)
    os.replace(tmp, folder / f"{batch}.parquet")  # as the IO manager writes: beside it, then renamed over


def _posts(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"post_id": ids, "ingested_at": pd.Timestamp("2026-12-01T10:00", tz="UTC")})


def test_the_lake_status_is_read_again_exactly_when_a_file_changes(tmp_path, monkeypatch):
    reads = []
    real = status.lake_status
    monkeypatch.setattr(status, "lake_status", lambda lake, platform: reads.append(1) or real(lake, platform))
    lake = str(tmp_path)
    _write(tmp_path, "cleaned_posts", "b1", _posts(["a", "b"]))
    _write(tmp_path, "quarantine", "b1", pd.DataFrame({"reason": ["bad date"]}))

    first = status.platform_status(lake, "facebook")
    assert (first["posts"], first["quarantined"], first["entities"]) == (2, 1, 0)
    assert status.platform_status(lake, "facebook") == first and len(reads) == 1  # from memory

    _write(tmp_path, "cleaned_posts", "b2", _posts(["b", "c"]))  # a new batch; "b" is in both
    assert status.platform_status(lake, "facebook")["posts"] == 3 and len(reads) == 2
    _write(tmp_path, "cleaned_posts", "b2", _posts(["b", "c", "d"]))  # the batch rematerialised
    assert status.platform_status(lake, "facebook")["posts"] == 4 and len(reads) == 3
    (tmp_path / "facebook" / "cleaned_posts" / "b1.parquet").unlink()  # a batch dropped
    assert status.platform_status(lake, "facebook")["posts"] == 3 and len(reads) == 4
    assert status.platform_status(lake, "facebook")["posts"] == 3 and len(reads) == 4


def test_a_caller_changing_the_answer_does_not_change_the_remembered_one(tmp_path):
    _write(tmp_path, "cleaned_posts", "b1", _posts(["a"]))
    status.platform_status(str(tmp_path), "facebook")["posts"] = 99
    assert status.platform_status(str(tmp_path), "facebook")["posts"] == 1


def _counted(monkeypatch, reader: str) -> list[str]:
    """The platforms `status.<reader>` is called for, in order (it still reads)."""
    calls, real = [], getattr(status, reader)
    monkeypatch.setattr(status, reader, lambda store, platform: calls.append(platform) or real(store, platform))
    return calls


def _writer_and_api_handle(tmp_path):
    """A store with four facebook posts; a writing handle (a run's) and one reading every commit (the API's)."""
    from datetime import timedelta

    from mlds_assets.store.lancedb_store import LanceDBPostStore
    from mlds_assets_tests.store.test_contract import DIM, records

    writer = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    writer.upsert(records(4))
    return writer, LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM, read_consistency_interval=timedelta(0))


def test_the_store_status_is_read_again_exactly_when_the_store_takes_a_commit(tmp_path, monkeypatch):
    """What /platforms asks of the post store: from memory while the table's version stands; a commit by
    another handle (a run writing batches) is seen at the next request."""
    from mlds_assets.store.lancedb_store import LanceDBPostStore
    from mlds_assets_tests.store.test_contract import DIM, records

    reads = _counted(monkeypatch, "read_store_status")
    writer, api_handle = _writer_and_api_handle(tmp_path)

    first = status.store_status(api_handle, "facebook")
    assert first["posts"] == 4 and first["pending_sentiment"] == 4
    assert status.store_status(api_handle, "facebook") == first and len(reads) == 1  # from memory
    status.store_status(api_handle, "facebook")["posts"] = 99  # a caller's change is its own
    assert status.store_status(api_handle, "facebook")["posts"] == 4 and len(reads) == 1

    writer.upsert(records(3, start=10))  # another handle commits
    assert status.store_status(api_handle, "facebook")["posts"] == 7 and len(reads) == 2
    assert status.store_status(api_handle, "tiktok")["posts"] == 0 and reads == ["facebook", "facebook", "tiktok"]
    assert status.store_status(api_handle, "facebook")["posts"] == 7 and len(reads) == 3

    import shutil

    remembered_version = api_handle.read_version()[1]
    shutil.rmtree(tmp_path / "store")  # deleted and rebuilt to the same version number, with other posts
    rebuilt = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    rebuilt.upsert(records(2))
    while rebuilt.read_version()[1] < remembered_version:
        rebuilt.upsert(records(2))  # the same two posts again: a commit, no new post
    assert rebuilt.read_version()[1] == remembered_version
    assert status.store_status(rebuilt, "facebook")["posts"] == 2 and len(reads) == 4


def test_the_backlog_is_counted_again_exactly_when_the_store_takes_a_commit(tmp_path, monkeypatch):
    from mlds_assets_tests.store.test_contract import records

    counted = _counted(monkeypatch, "read_store_backlog")
    writer, api_handle = _writer_and_api_handle(tmp_path)
    first = status.store_backlog(api_handle, "facebook")
    assert first == {"pending_sentiment": 4, "pending_semantic": 0, "complete": 0, "posts": 4}
    assert status.store_backlog(api_handle, "facebook") == first and len(counted) == 1
    done = records(4).assign(processing_status="complete")[["post_id", "processing_status"]]
    writer.update_fields(done)
    assert status.store_backlog(api_handle, "facebook")["complete"] == 4 and len(counted) == 2
