"""Chunked, checkpointed work: resumes after a crash, works each post exactly once, re-queues by version."""

from __future__ import annotations

import pandas as pd
import pytest

from mlds_assets.core.checkpoints import ChunkCheckpoint, pending_rows, run_chunked


def posts(n: int) -> pd.DataFrame:
    frame = pd.DataFrame({"post_id": [f"p{i:03d}" for i in range(n)], "clean_text": [f"text {i}" for i in range(n)]})
    return frame.astype("string")


class Work:
    """Records every post it is given; can fail on a chosen call, like a process dying mid-chunk."""

    def __init__(self, version: str, fail_on_call: int | None = None):
        self.version, self.fail_on_call, self.calls, self.seen = version, fail_on_call, 0, []

    def __call__(self, rows: pd.DataFrame) -> pd.DataFrame:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("killed")
        self.seen += rows["post_id"].tolist()
        return rows[["post_id"]].assign(result=rows["clean_text"].str.upper(), model_version=self.version)


def test_every_post_worked_once_in_chunks(tmp_path):
    checkpoint = ChunkCheckpoint(tmp_path / "ck")
    work = Work("v1")
    progress = []
    run = run_chunked(posts(25), None, checkpoint, "v1", 10, work, "run-a", lambda *a: progress.append(a[:3]))
    assert run.results["post_id"].tolist() == posts(25)["post_id"].tolist()  # the batch's order
    assert sorted(work.seen) == posts(25)["post_id"].tolist()
    assert [p for p in progress] == [(1, 3, 10), (2, 3, 10), (3, 3, 5)]
    assert len(checkpoint.files()) == 3
    assert (run.computed, run.chunks, run.reused, run.resumed) == (25, 3, 0, 0)


def test_crash_in_third_chunk_resumes_without_redoing_finished_chunks(tmp_path):
    checkpoint = ChunkCheckpoint(tmp_path / "ck")
    first = Work("v1", fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        run_chunked(posts(50), None, checkpoint, "v1", 10, first, "run-a")
    assert len(checkpoint.files()) == 2  # chunks 1 and 2 are safe; chunk 3 left nothing behind

    second = Work("v1")
    run = run_chunked(posts(50), None, checkpoint, "v1", 10, second, "run-b")
    assert (run.resumed, run.computed) == (20, 30)
    everything = first.seen + second.seen
    assert sorted(everything) == posts(50)["post_id"].tolist()  # each post worked exactly once
    stored = checkpoint.load()
    assert stored["post_id"].is_unique and len(stored) == 50
    assert run.results["post_id"].tolist() == posts(50)["post_id"].tolist()  # one each, in the batch order


def test_next_run_prunes_chunks_that_the_stored_output_holds(tmp_path):
    checkpoint = ChunkCheckpoint(tmp_path / "ck")
    run = run_chunked(posts(20), None, checkpoint, "v1", 10, Work("v1"), "run-a")
    again = run_chunked(posts(20), run.results, checkpoint, "v1", 10, Work("v1"), "run-b")
    assert (again.pruned, again.reused, again.computed) == (2, 20, 0)
    assert checkpoint.files() == []


def test_new_version_requeues_exactly_the_posts_scored_under_another():
    batch = posts(6)
    done = pd.DataFrame(
        {"post_id": ["p000", "p001", "p002", "p003"], "model_version": ["v1", "v2", "v1", "v2"], "result": "x"}
    )
    assert pending_rows(batch, done, "v2")["post_id"].tolist() == ["p000", "p002", "p004", "p005"]


def test_version_change_through_run_chunked(tmp_path):
    checkpoint = ChunkCheckpoint(tmp_path / "ck")
    first = run_chunked(posts(12), None, checkpoint, "v1", 5, Work("v1"), "run-a")
    rescoring = Work("v2")
    second = run_chunked(posts(12), first.results, checkpoint, "v2", 5, rescoring, "run-b")
    assert sorted(rescoring.seen) == posts(12)["post_id"].tolist()
    assert set(second.results["model_version"]) == {"v2"} and len(second.results) == 12


def test_posts_gone_from_the_batch_are_not_kept(tmp_path):
    checkpoint = ChunkCheckpoint(tmp_path / "ck")
    first = run_chunked(posts(10), None, checkpoint, "v1", 5, Work("v1"), "run-a")
    fewer = posts(10).iloc[:7]
    second = run_chunked(fewer, first.results, checkpoint, "v1", 5, Work("v1"), "run-b")
    assert second.results["post_id"].tolist() == fewer["post_id"].tolist()


def test_empty_batch(tmp_path):
    run = run_chunked(posts(0), None, ChunkCheckpoint(tmp_path / "ck"), "v1", 5, Work("v1"), "run-a")
    assert len(run.results) == 0 and run.chunks == 0
    assert list(run.results.columns) == ["post_id", "result", "model_version"]  # what readers of the asset select


def test_progress_lines_first_last_and_throttled_between():
    from mlds_assets.core.checkpoints import ChunkProgress

    lines: list[str] = []
    progress = ChunkProgress(lines.append, "sentiment", every_seconds=3600)
    for k in range(1, 6):
        progress(k, 5, 100, 0.5)
    assert lines == [
        "sentiment chunk 1 of 5: 100 posts done, 200 posts/s",
        "sentiment chunk 5 of 5: 500 posts done, 200 posts/s",
    ]
    every = ChunkProgress(lines.append, "sentiment", every_seconds=0)
    for k in range(1, 4):
        every(k, 3, 10, 1.0)
    assert len(lines) == 5  # with no throttle, every chunk
