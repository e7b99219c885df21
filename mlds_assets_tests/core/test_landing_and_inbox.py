"""Landing (content-addressed, atomic, path-safe) and inbox scanning (ready only when complete)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from mlds_assets.core.inbox import scan_inbox
from mlds_assets.core.landing import SIDECAR, LandingError, find_by_hash, land_file, landed, partition_key_for

CSV = b"id,text\n1,hello\n"
IGNORE = (".part", ".tmp", ".crdownload", ".partial")


def put(path: Path, data: bytes = CSV, age_s: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age_s is not None:
        stat = path.stat()
        os.utime(path, (stat.st_atime - age_s, stat.st_mtime - age_s))
    return path


# --- landing ----------------------------------------------------------------------------------------


def test_land_file_copies_with_sidecar(tmp_path):
    source = put(tmp_path / "inbox" / "week 1.csv")
    landing = tmp_path / "landing"
    result, is_new = land_file(source, landing, "facebook")
    sha = hashlib.sha256(CSV).hexdigest()
    assert is_new
    assert result.sha256 == sha and result.size == len(CSV) and result.source_name == "week 1.csv"
    assert result.partition_key == f"week_1-{sha[:12]}"
    assert result.path == landing / "facebook" / f"{result.partition_key}.csv"
    assert result.path.read_bytes() == CSV
    assert source.exists()  # copied, not moved
    sidecar = json.loads((landing / "facebook" / f"{result.partition_key}{SIDECAR}").read_text())
    assert sidecar["sha256"] == sha and sidecar["landed_name"] == result.path.name
    # nothing half-written is left behind
    names = sorted(p.name for p in (landing / "facebook").iterdir())
    assert names == sorted([f"{result.partition_key}.csv", f"{result.partition_key}{SIDECAR}"])
    assert landed(landing, "facebook", result.partition_key) == result
    assert find_by_hash(landing, "facebook", sha) == result.partition_key


def test_json_export_does_not_collide_with_its_sidecar(tmp_path):
    data = b'{"data": [{"id": "1"}]}'
    result, _ = land_file(put(tmp_path / "ig.json", data), tmp_path / "landing", "instagram")
    assert result.path.read_bytes() == data
    again, is_new = land_file(put(tmp_path / "ig copy.json", data), tmp_path / "landing", "instagram")
    assert not is_new and again.path.read_bytes() == data


def test_same_content_under_another_name_is_not_new(tmp_path):
    landing = tmp_path / "landing"
    first, new_first = land_file(put(tmp_path / "a.csv"), landing, "facebook")
    second, new_second = land_file(put(tmp_path / "renamed copy.csv"), landing, "facebook")
    assert (new_first, new_second) == (True, False)
    assert second.partition_key == first.partition_key
    assert second.path == first.path
    assert len(list((landing / "facebook").glob("*.csv"))) == 1


def test_same_content_on_another_platform_lands_separately(tmp_path):
    landing = tmp_path / "landing"
    source = put(tmp_path / "a.csv")
    _, new_fb = land_file(source, landing, "facebook")
    other, new_tt = land_file(source, landing, "customer_care")
    assert new_fb and new_tt
    assert other.path.parent == landing / "customer_care"


def test_different_content_same_name_gets_a_new_partition(tmp_path):
    landing = tmp_path / "landing"
    first, _ = land_file(put(tmp_path / "a.csv"), landing, "facebook")
    second, is_new = land_file(put(tmp_path / "a.csv", b"id,text\n2,changed\n"), landing, "facebook")
    assert is_new
    assert second.partition_key != first.partition_key
    assert second.partition_key.startswith("a-")


def test_hostile_name_gives_safe_key_and_stays_in_landing(tmp_path):
    hostile = "../../etc/pass wd;rm -rf.csv"
    key = partition_key_for(hostile, "ab" * 32)
    assert key == "pass_wd_rm_-rf-" + "ab" * 6
    # the same name as a real path: inbox/x/y/../../etc/pass wd;rm -rf.csv
    put(tmp_path / "inbox" / "etc" / "pass wd;rm -rf.csv")
    (tmp_path / "inbox" / "x" / "y").mkdir(parents=True)
    landing = tmp_path / "landing"
    result, _ = land_file(tmp_path / "inbox" / "x" / "y" / hostile, landing, "facebook")
    assert result.partition_key == f"pass_wd_rm_-rf-{result.sha256[:12]}"
    assert result.path.resolve().parent == (landing / "facebook").resolve()
    assert result.path.read_bytes() == CSV
    assert {p.parent for p in tmp_path.rglob("*") if p.is_file()} == {
        tmp_path / "inbox" / "etc",
        landing / "facebook",
    }  # nothing written anywhere else


def test_shell_and_dot_characters_never_reach_the_key(tmp_path):
    weird = put(tmp_path / "in" / "..pass wd;rm -rf $(x) `y` & z|w.csv")
    result, _ = land_file(weird, tmp_path / "landing", "facebook")
    assert all(c.isalnum() or c in "_.-" for c in result.partition_key)
    assert not result.partition_key.startswith(".")  # never a hidden file
    assert result.source_name == weird.name


@pytest.mark.parametrize("name", ["", "...", "-.-", "%%%.csv"])
def test_key_for_names_with_nothing_safe(name):
    key = partition_key_for(name, "0" * 64)
    assert key == "file-" + "0" * 12


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(LandingError, match=r"\.exe"):
        land_file(put(tmp_path / "export.exe"), tmp_path / "landing", "facebook")
    assert not (tmp_path / "landing").exists()


def test_over_max_bytes_is_refused(tmp_path):
    source = put(tmp_path / "big.csv")
    with pytest.raises(LandingError, match=r"big\.csv"):
        land_file(source, tmp_path / "landing", "facebook", max_bytes=len(CSV) - 1)
    result, _ = land_file(source, tmp_path / "landing", "facebook", max_bytes=len(CSV))  # at the limit: fine
    assert result.size == len(CSV)


def test_not_a_regular_file(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(LandingError):
        land_file(tmp_path / "dir.csv", tmp_path / "landing", "facebook")


def test_landed_without_sidecar_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="never-landed"):
        landed(tmp_path, "facebook", "never-landed")


# --- inbox ------------------------------------------------------------------------------------------

FOLDERS = {"facebook": "facebook", "care": "customer_care"}
SETTLE = 5.0


def scan(inbox: Path, previous: dict | None = None, now: float | None = None):
    return scan_inbox(inbox, FOLDERS, previous or {}, SETTLE, IGNORE, now=now)


def twice(inbox: Path, previous: dict | None = None, now: float | None = None):
    """Two sensor ticks in a row: the first observes, the second may take what did not change."""
    return scan(inbox, previous=scan(inbox, previous, now=now).state, now=now)


def test_fresh_file_waits_for_a_second_look_and_the_settle_time(tmp_path):
    path = put(tmp_path / "inbox" / "facebook" / "new.csv")
    now = path.stat().st_mtime  # just written
    first = scan(tmp_path / "inbox", now=now)
    assert first.ready == []
    assert first.state[str(path)][:2] == [path.stat().st_size, path.stat().st_mtime_ns]
    unsettled = scan(tmp_path / "inbox", previous=first.state, now=now + 1)  # unchanged, but too young
    assert unsettled.ready == []
    settled = scan(tmp_path / "inbox", previous=unsettled.state, now=now + SETTLE)
    assert settled.ready == [("facebook", path)]


def test_file_still_growing_is_not_ready(tmp_path):
    path = put(tmp_path / "inbox" / "facebook" / "growing.csv")
    now = path.stat().st_mtime
    first = scan(tmp_path / "inbox", now=now)
    with path.open("ab") as handle:
        handle.write(b"2,more\n")
    second = scan(tmp_path / "inbox", previous=first.state, now=now + SETTLE + 1)
    assert second.ready == []


def test_an_old_mtime_alone_never_proves_a_file_complete(tmp_path):
    """A writer that paused (or a copy keeping its source's mtime): the first look must not take it, and a
    change before the second look starts the wait again, so the half file never becomes a batch."""
    path = put(tmp_path / "inbox" / "care" / "half.csv", b"id,text\n1,first half", age_s=60)
    first = scan(tmp_path / "inbox")
    assert first.ready == []
    put(path, b"id,text\n1,first half of the row\n2,second\n", age_s=30)  # the rest arrives
    second = scan(tmp_path / "inbox", previous=first.state)
    assert second.ready == []
    third = scan(tmp_path / "inbox", previous=second.state)
    assert third.ready == [("customer_care", path)]


def test_partial_downloads_and_hidden_files_are_ignored(tmp_path):
    folder = tmp_path / "inbox" / "facebook"
    for name in ("a.csv.part", "b.csv.tmp", "c.csv.crdownload", "D.CSV.PART", ".hidden.csv"):
        put(folder / name, age_s=60)
    result = twice(tmp_path / "inbox")
    assert result.ready == [] and result.state == {}


def test_unknown_platform_folder_is_skipped_with_reason(tmp_path):
    put(tmp_path / "inbox" / "myspace" / "x.csv", age_s=60)
    put(tmp_path / "inbox" / "stray.csv", age_s=60)
    result = twice(tmp_path / "inbox")
    assert result.ready == []
    assert any(r.startswith("myspace/") and "no platform" in r for r in result.skipped)
    assert any(r.startswith("stray.csv") for r in result.skipped)


def test_landed_file_unchanged_is_not_ready_again(tmp_path):
    path = put(tmp_path / "inbox" / "facebook" / "done.csv", age_s=60)
    first = twice(tmp_path / "inbox")
    assert first.ready == [("facebook", path)]
    state = {k: [*v[:2], "done-abc123"] for k, v in first.state.items()}  # the sensor records the partition
    again = scan(tmp_path / "inbox", previous=state)
    assert again.ready == []
    assert again.state[str(path)][2] == "done-abc123"  # remembered for the next scan


def test_landed_file_that_changes_is_ready_again(tmp_path):
    path = put(tmp_path / "inbox" / "facebook" / "done.csv", age_s=60)
    state = {k: [*v[:2], "done-abc123"] for k, v in twice(tmp_path / "inbox").state.items()}
    put(path, b"id,text\n9,new content\n", age_s=30)
    again = twice(tmp_path / "inbox", previous=state)
    assert again.ready == [("facebook", path)]
    assert again.state[str(path)][2] == ""


def test_symlinks_in_the_inbox_are_refused(tmp_path):
    """A link to /etc/passwd or to another team's export is not ingested (ingestion.follow_symlinks: false)."""
    outside = put(tmp_path / "other_team" / "private.csv", age_s=60)
    folder = tmp_path / "inbox" / "facebook"
    folder.mkdir(parents=True)
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "theirs.csv").symlink_to(outside)
    (tmp_path / "inbox" / "care").symlink_to(outside.parent, target_is_directory=True)
    result = twice(tmp_path / "inbox")
    assert result.ready == []
    assert sum("symlink" in reason for reason in result.skipped) >= 3
    allowed = scan_inbox(tmp_path / "inbox", FOLDERS, result.state, SETTLE, IGNORE, follow_symlinks=True)
    assert ("facebook", folder / "theirs.csv") in scan_inbox(
        tmp_path / "inbox", FOLDERS, allowed.state, SETTLE, IGNORE, follow_symlinks=True
    ).ready  # only by an explicit setting


def test_unreadable_file_is_skipped_with_a_reason_and_the_others_go_on(tmp_path, monkeypatch):
    good = put(tmp_path / "inbox" / "facebook" / "good.csv", age_s=60)
    bad = put(tmp_path / "inbox" / "facebook" / "bad.csv", age_s=60)
    real_stat = Path.stat

    def stat(self, *args, **kwargs):
        if self.name == "bad.csv" and kwargs.get("follow_symlinks", True):  # root reads anything: make it fail
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    result = twice(tmp_path / "inbox")
    assert result.ready == [("facebook", good)]
    assert any("bad.csv" in reason and "cannot be read" in reason for reason in result.skipped)
    assert str(bad) not in result.state  # not remembered: retried at the next tick


def test_missing_inbox_is_empty(tmp_path):
    result = scan(tmp_path / "nope")
    assert (result.ready, result.state, result.skipped) == ([], {}, [])


def test_a_file_that_grows_while_it_is_landed_is_not_landed_and_is_retried(tmp_path, monkeypatch):
    from mlds_assets.core.landing import SourceChangedError

    source = put(tmp_path / "inbox" / "growing.csv")
    landing = tmp_path / "landing"
    real_open = Path.open

    def open_while_a_writer_appends(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if path == source and "r" in mode:
            with open(source, "ab") as writer:  # the exporter is still writing as the copy starts
                writer.write(b"2,more\n")
        return handle

    monkeypatch.setattr(Path, "open", open_while_a_writer_appends)
    with pytest.raises(SourceChangedError, match="changed while it was being landed") as raised:
        land_file(source, landing, "facebook")
    assert isinstance(raised.value, OSError)  # its new mtime makes the inbox sensor take it again once settled
    assert list(landing.rglob("*")) == [landing / "facebook"]  # no copy, no sidecar, no temp file

    monkeypatch.undo()
    result, is_new = land_file(source, landing, "facebook")  # complete now: it lands
    assert is_new and result.path.read_bytes() == CSV + b"2,more\n"
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.size == result.path.stat().st_size


def test_a_full_disk_while_landing_names_the_folder_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    source = put(tmp_path / "inbox" / "week.csv")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="cannot write the landed copy: No space left on device") as raised:
        land_file(source, tmp_path / "landing", "facebook")
    assert raised.value.filename == str(tmp_path / "landing" / "facebook")
    assert list((tmp_path / "landing").rglob("*")) == [tmp_path / "landing" / "facebook"]
