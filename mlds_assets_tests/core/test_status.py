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
