"""post_collection through Dagster on a real instance and a real LanceDB store. The runs of `mlds ingest` and
of a re-run are `launched` (their own `dagster dev`); the failing store is a resource of this process, and
the rebuild tests only need a store to rebuild, so those stay in process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mlds_assets.definitions import build_definitions
from mlds_assets.resources import PostStoreResource
from mlds_assets.service.ingest import ingest
from mlds_assets.service.runs import run_job
from mlds_assets.service.status import status, store_disagreements
from mlds_assets.service.store import open_store
from mlds_assets.store.lancedb_store import LanceDBPostStore
from mlds_assets.store.rebuild import rebuild_platform

ROWS = 40


@pytest.fixture
def export(tmp_path) -> Path:
    lines = ["status_id,status_message,status_published,num_likes"]
    lines += [f"1_{i},Post {i} about Nike running shoes,2024-03-01 10:{i % 60:02d}:00,{i}" for i in range(ROWS)]
    path = tmp_path / "posts.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.launched
def test_same_file_twice_leaves_store_count_unchanged(settings, instance, export, tmp_path, settle):
    assert ingest(settings, export, "facebook", instance)["launched"] == "webserver"
    copy = tmp_path / "again.csv"
    shutil.copy(export, copy)
    assert ingest(settings, copy, "facebook", instance)["status"] == "already ingested"
    settle()  # the daemon's follow-ups (resolution, the store re-sync) rewrite nothing twice either

    report = status(settings, instance)
    assert report["platforms"]["facebook"]["posts"] == ROWS
    assert store_disagreements(settings, report) == []
    assert open_store(settings).count({"entity": "nike"}) == ROWS


@pytest.mark.launched
def test_resync_after_a_field_changes_updates_in_place(settings, instance, export, config_dir, settle):
    first = ingest(settings, export, "facebook", instance)
    assert first["launched"] == "webserver"
    settle()
    dictionary = config_dir / "entities.yaml"
    dictionary.write_text(
        dictionary.read_text() + "  - {id: running_shoes, name: Running shoes, aliases: [running shoes]}\n"
    )  # the re-run's worker loads the code location afresh: the new entity is in its dictionary
    again = run_job(settings, instance, "facebook_fast_path", first["batch"])
    assert again["status"] == "ok" and again["launched"] == "webserver", again
    settle()

    store = open_store(settings)
    assert store.count() == ROWS
    assert store.count({"entity": "running_shoes"}) == ROWS


class FailingAfterRows(LanceDBPostStore):
    """A real LanceDB store whose upsert breaks once, after `fail_after` rows, like a dropped connection."""

    failures_left = 1

    def upsert(self, records: pd.DataFrame) -> int:
        if FailingAfterRows.failures_left:
            FailingAfterRows.failures_left -= 1
            super().upsert(records.iloc[:15])
            raise ConnectionError("store went away after 15 rows")
        return super().upsert(records)


class FlakyStoreResource(PostStoreResource):
    def get_store(self):
        store = FailingAfterRows(self.uri, self.table, self.vector_dim, self.write_batch_rows)
        store.ensure_collection()
        return store


def test_failed_store_write_fails_the_run_and_rerun_completes_exactly(settings, instance, export):
    FailingAfterRows.failures_left = 1
    batch = ingest(settings, export, "facebook", instance)["batch"]
    store = open_store(settings)
    store.delete(store.fetch(limit=1000)["post_id"].tolist())  # start the store empty
    flaky = FlakyStoreResource(uri=settings.store_uri, table=settings.store.table, vector_dim=settings.store.vector_dim)
    job = build_definitions(settings, post_store=flaky).resolve_job_def("facebook_fast_path")

    failed = job.execute_in_process(partition_key=batch, instance=instance, raise_on_error=False)
    assert not failed.success
    errors = [e.step_failure_data.error.cause.message for e in failed.all_events if e.is_step_failure]
    assert any("store went away" in message for message in errors)
    assert open_store(settings).count() == 15  # part-way, and visibly so

    assert job.execute_in_process(partition_key=batch, instance=instance).success
    assert open_store(settings).count() == ROWS  # nothing lost, nothing doubled


def test_rebuild_after_deleting_the_store_gives_back_the_same_records(settings, instance, export):
    ingest(settings, export, "facebook", instance)
    columns = ["post_id", "text", "entities", "likes", "processing_status"]
    before = open_store(settings).fetch(limit=1000)[columns].sort_values("post_id").reset_index(drop=True)
    shutil.rmtree(settings.store_uri)
    assert store_disagreements(settings, status(settings, instance)) == [
        "facebook: the post store has 0 posts, the lake 40"
    ]

    assert rebuild_platform(open_store(settings), settings.lake_base, "facebook") == ROWS
    after = open_store(settings).fetch(limit=1000)[columns].sort_values("post_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        before.assign(entities=before["entities"].map(list)), after.assign(entities=after["entities"].map(list))
    )


def test_a_rebuild_that_cannot_write_deletes_nothing(settings, instance, export, monkeypatch):
    ingest(settings, export, "facebook", instance)

    def broken(self, records):
        raise ConnectionError("store went away")

    monkeypatch.setattr(LanceDBPostStore, "upsert", broken)
    with pytest.raises(ConnectionError):
        rebuild_platform(open_store(settings), settings.lake_base, "facebook")
    monkeypatch.undo()
    assert open_store(settings).count({"platform": "facebook"}) == ROWS  # not emptied before writing


def test_a_batch_that_cannot_become_records_stops_the_rebuild_before_any_write(settings, instance, export):
    from mlds_assets.store.rebuild import RebuildError

    batch = ingest(settings, export, "facebook", instance)["batch"]
    cleaned = Path(settings.lake_base) / "facebook" / "cleaned_posts" / f"{batch}.parquet"
    frame = pd.read_parquet(cleaned)
    frame.assign(likes="lots").to_parquet(cleaned.with_name("broken-batch.parquet"))
    with pytest.raises(RebuildError, match="broken-batch"):
        rebuild_platform(open_store(settings), settings.lake_base, "facebook")
    assert open_store(settings).count({"platform": "facebook"}) == ROWS


def test_a_rebuild_leaves_each_post_once_and_counts_distinct_posts(settings, instance, export, tmp_path):
    ingest(settings, export, "facebook", instance)
    edited = tmp_path / "edited.csv"
    edited.write_text(export.read_text().replace("Post 1 ", "Post 1 (edited) "))  # the same 40 ids again
    ingest(settings, edited, "facebook", instance)
    store = open_store(settings)
    records = store.fetch(limit=1000)
    store.table.add(records.iloc[:5])  # a second copy of five posts, as two writers at once could leave
    gone = records.iloc[:1].assign(post_id="not-in-the-lake")
    store.table.add(gone)
    assert store.count() == ROWS + 6

    assert rebuild_platform(store, settings.lake_base, "facebook") == ROWS
    stored = store.fetch(limit=1000)
    assert len(stored) == ROWS and stored["post_id"].is_unique and "not-in-the-lake" not in set(stored["post_id"])
    assert stored["text"].str.contains("Post 1 (edited)", regex=False).sum() == 1  # the later batch's record won
