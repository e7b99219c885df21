"""The LanceDB store as a shared resource: Lance's retryable commit conflicts are retried, duplicate records
(what concurrent merge_inserts used to leave) are counted for `mlds status`, apart from distinct posts."""

from __future__ import annotations

import pyarrow as pa

from mlds_assets.core.status import store_status
from mlds_assets.store.lancedb_store import LanceDBPostStore
from mlds_assets_tests.store.test_contract import DIM, records


def test_a_retryable_commit_conflict_is_retried(tmp_path, monkeypatch):
    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM, sleep=lambda s: None)
    store.ensure_collection()
    real = type(store.table).merge_insert
    failures = []

    def merge_insert(table, on):
        if not failures:
            failures.append(on)
            raise RuntimeError(
                "lance error: Retryable commit conflict for version 7: preempted by concurrent transaction"
            )
        return real(table, on)

    monkeypatch.setattr(type(store.table), "merge_insert", merge_insert)
    assert store.upsert(records(5)) == 5
    assert failures and store.count() == 5


def test_duplicate_records_are_counted_apart_from_distinct_posts(tmp_path):
    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    store.upsert(records(4))
    twice = store.fetch({"post_id": ["facebook-1", "facebook-2"]}, limit=10)
    store.table.add(pa.Table.from_pandas(twice.drop(columns=[c for c in twice if c.startswith("_")]),
                                         schema=store.table.schema, preserve_index=False))  # fmt: skip
    assert store.count({"platform": "facebook"}) == 6
    assert store.duplicate_records({"platform": "facebook"}) == 2
    status = store_status(store, "facebook")
    assert (status["posts"], status["duplicate_records"]) == (4, 2)  # distinct posts, duplicates apart
