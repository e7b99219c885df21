"""A writer SIGKILLed in the middle of an upsert leaves files in the LanceDB table folder: the data file it
was writing under a temporary name (data/.tmpXXXXXX, which Lance renames once complete and its own
cleanup never removes), or a complete data file and transaction file that no committed version references
(Lance keeps those 7 days, as if a write were still in progress). The store removes both under its write
lock; a temporary file younger than `temp_file_grace` is spared (it could be a live writer's)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mlds_assets.store.lancedb_store import LanceDBPostStore
from mlds_assets_tests.conftest import REPO
from mlds_assets_tests.store.test_contract import DIM, records

WRITER = """
import sys
from mlds_assets.store.lancedb_store import LanceDBPostStore
from mlds_assets_tests.store.test_contract import DIM, records

store = LanceDBPostStore(sys.argv[1], vector_dim=DIM, write_batch_rows=4000)
start = int(sys.argv[2])
posts = records(40_000, start=start)
posts["text"] = posts["text"] + " lorem ipsum dolor sit amet" * 40  # a data file that takes a while to write
print("writing", flush=True)
store.upsert(posts)  # ten chunks, ten commits: new posts only, so one data file per commit
"""


def _temp_files(table_dir: Path) -> list[Path]:
    return [p for p in table_dir.rglob("*") if p.is_file() and p.name.startswith(".tmp")]


def _files(folder: Path, suffix: str) -> int:
    return sum(1 for p in folder.iterdir() if p.name.endswith(suffix)) if folder.is_dir() else 0


def _kill_writer_leaving(uri: str, table_dir: Path, leftover: str, deadline_s: float = 240) -> None:
    """Start writers into the table until one is SIGKILLed at the moment `leftover` is on disk: 'temporary'
    (a data file still being written) or 'uncommitted' (a data file renamed into place, its version not yet
    committed). The writer is frozen (SIGSTOP) when the moment is seen, and killed if it still holds."""
    data, versions = table_dir / "data", table_dir / "_versions"

    def caught(data_files: int, manifests: int) -> bool:
        if leftover == "temporary":
            return any(p.name.startswith(".tmp") for p in data.iterdir())
        # each commit of new posts adds one data file and one manifest: a data file beyond that is unreferenced
        return _files(data, ".lance") - data_files > _files(versions, ".manifest") - manifests

    deadline, start = time.monotonic() + deadline_s, 1_000_000
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    while time.monotonic() < deadline:
        data_files, manifests = _files(data, ".lance"), _files(versions, ".manifest")
        writer = subprocess.Popen([sys.executable, "-c", WRITER, uri, str(start)], env=env, stdout=subprocess.PIPE,
                                  text=True)  # fmt: skip
        start += 100_000
        try:
            assert writer.stdout.readline().strip() == "writing"
            while writer.poll() is None and time.monotonic() < deadline:
                if not caught(data_files, manifests):
                    continue
                writer.send_signal(signal.SIGSTOP)  # frozen: what is on disk now stays so
                if caught(data_files, manifests):
                    writer.kill()
                    writer.wait()
                    return
                writer.send_signal(signal.SIGCONT)
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.wait()
    pytest.fail(f"no writer was caught with a {leftover} data file on disk within {deadline_s} s")


@pytest.mark.parametrize("leftover", ["temporary", "uncommitted"])
def test_what_a_killed_writer_leaves_is_removed_under_the_write_lock(tmp_path, leftover):
    uri, table_dir = str(tmp_path / "store"), tmp_path / "store" / "posts.lance"
    LanceDBPostStore(uri, vector_dim=DIM).upsert(records(10))
    _kill_writer_leaving(uri, table_dir, leftover)
    left = _temp_files(table_dir)
    committed = LanceDBPostStore(uri, vector_dim=DIM).table.list_versions()[-1]["metadata"]
    if leftover == "temporary":
        assert left, "the killed writer left its temporary data file"
    else:
        assert _files(table_dir / "data", ".lance") > int(committed["total_data_files"])

    # The next process's first write: a temporary file this young could be a live writer's, so it stays.
    LanceDBPostStore(uri, vector_dim=DIM).upsert(records(3, start=50_000_000))
    assert _temp_files(table_dir) == left

    # Past the grace (0 here), the next write removes it, and optimize() the unreferenced data files.
    store = LanceDBPostStore(uri, vector_dim=DIM, temp_file_grace=timedelta(0))
    store.upsert(records(2, start=60_000_000))
    assert _temp_files(table_dir) == []
    with pytest.warns(UserWarning, match="removes every version except the latest"):
        store.optimize(keep_versions_for=timedelta(0))
    latest = store.table.list_versions()[-1]["metadata"]
    assert _files(table_dir / "data", ".lance") == int(latest["total_data_files"])  # only referenced data
    assert _files(table_dir / "_transactions", ".txn") == 1  # the latest version's, none of the killed one's
    assert _temp_files(table_dir) == []
    # Every committed post is still there and readable (nothing referenced was removed), none twice.
    posts = store.fetch(limit=store.count() + 1)
    assert len(posts) == store.count() and posts["post_id"].is_unique
    assert {"facebook-0", "facebook-9", "facebook-50000000", "facebook-60000001"} <= set(posts["post_id"])


def _waiting_for_flock(lock: Path) -> bool:
    """Someone is blocked on the flock of `lock` (a '->' line in /proc/locks names its inode)."""
    inode = f":{lock.stat().st_ino} "
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and "FLOCK" in line and inode in line for line in lines)


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs /proc/locks to see a blocked flock")
def test_the_clean_up_never_removes_a_live_writers_temporary_file(tmp_path):
    """Grace 0, and a writer frozen with its temporary data file on disk: the clean-up waits for the write
    lock instead of removing the file, and the writer, resumed, commits everything."""
    uri, table_dir = str(tmp_path / "store"), tmp_path / "store" / "posts.lance"
    LanceDBPostStore(uri, vector_dim=DIM).upsert(records(10))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, uri, "1000000"], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    errors: list[BaseException] = []
    try:
        assert writer.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(".tmp") for p in (table_dir / "data").iterdir()):
            assert writer.poll() is None and time.monotonic() < deadline, "the writer never wrote a temporary file"
        writer.send_signal(signal.SIGSTOP)
        if not _temp_files(table_dir):  # renamed in the instant before the stop: wait for the next chunk's
            writer.send_signal(signal.SIGCONT)
            while not _temp_files(table_dir):
                assert writer.poll() is None and time.monotonic() < deadline
            writer.send_signal(signal.SIGSTOP)
        live = _temp_files(table_dir)
        assert live

        def clean_up():
            try:
                store = LanceDBPostStore(uri, vector_dim=DIM, temp_file_grace=timedelta(0))
                store.optimize()
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        cleaner = threading.Thread(target=clean_up)
        cleaner.start()
        lock = tmp_path / "store" / ".posts.write-lock"
        while not _waiting_for_flock(lock):
            assert cleaner.is_alive() and time.monotonic() < deadline, "the clean-up did not wait for the lock"
        assert all(p.exists() for p in live)  # the frozen writer's file is still there
        writer.send_signal(signal.SIGCONT)
        assert writer.wait(timeout=300) == 0
        cleaner.join(timeout=300)
    finally:
        if writer.poll() is None:
            writer.send_signal(signal.SIGCONT)
            writer.kill()
            writer.wait()
    assert not errors and not cleaner.is_alive()
    store = LanceDBPostStore(uri, vector_dim=DIM)
    assert store.count() == 10 + 40_000 and store.duplicate_records() == 0
    assert _temp_files(table_dir) == []
