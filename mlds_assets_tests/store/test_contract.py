"""One contract for every post-store backend. LanceDB runs here always; the Weaviate backend (not built
yet, see issue 3) will join this parametrisation, skipped unless MLDS_TEST_WEAVIATE_URL is set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlds_assets.store import PostStore
from mlds_assets.store.lancedb_store import LanceDBPostStore, filter_sql

DIM = 8


def records(n: int, platform: str = "facebook", start: int = 0) -> pd.DataFrame:
    ids = [f"{platform}-{i}" for i in range(start, start + n)]
    return pd.DataFrame(
        {
            "post_id": ids,
            "platform": platform,
            "batch_id": "b1",
            "text": [
                f"post {i} about {'running shoes' if i % 2 else 'phone battery'}" for i in range(start, start + n)
            ],
            "created_at": pd.Timestamp("2024-01-01", tz="UTC"),
            "likes": range(n),
            "entities": [["nike"] if i % 2 else ["apple"] for i in range(start, start + n)],
            "processing_status": "pending_sentiment",
        }
    )


@pytest.fixture(params=["lancedb"])
def store(request, tmp_path) -> PostStore:
    backend = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM, write_batch_rows=7)
    backend.ensure_collection()
    return backend


def test_backend_satisfies_protocol(store):
    assert isinstance(store, PostStore)


def test_upsert_twice_keeps_count_and_updates_in_place(store):
    assert store.upsert(records(20)) == 20
    changed = records(20)
    changed.loc[3, "text"] = "post 3 edited"
    assert store.upsert(changed) == 20

    assert store.count() == 20
    row = store.fetch({"post_id": "facebook-3"})
    assert row["text"].tolist() == ["post 3 edited"]


def test_update_fields_changes_only_those_fields(store):
    store.upsert(records(10))
    updates = pd.DataFrame({"post_id": ["facebook-1", "facebook-2"], "sentiment_label": ["pos", "neg"]})
    store.update_fields(updates.assign(processing_status="sentiment_complete"))

    got = store.fetch({"post_id": ["facebook-1", "facebook-2"]}).set_index("post_id")
    assert got.loc["facebook-1", "sentiment_label"] == "pos" and got.loc["facebook-2", "sentiment_label"] == "neg"
    assert got.loc["facebook-1", "text"] == "post 1 about running shoes"  # untouched
    assert store.count({"processing_status": "pending_sentiment"}) == 8
    assert store.coverage("sentiment_label") == pytest.approx(0.2)
    with pytest.raises(KeyError, match="facebook-99"):
        store.update_fields(pd.DataFrame({"post_id": ["facebook-99"], "sentiment_label": ["pos"]}))


def test_fetch_pages_cover_every_record_once(store):
    store.upsert(records(23))
    seen = []
    for offset in range(0, 30, 5):
        seen += store.fetch(limit=5, offset=offset)["post_id"].tolist()
    assert sorted(seen) == sorted(records(23)["post_id"])


def test_filters_by_platform_status_and_entity(store):
    store.upsert(pd.concat([records(6), records(4, platform="tiktok")], ignore_index=True))

    assert store.count({"platform": "tiktok"}) == 4
    assert store.count({"platform": ["tiktok", "facebook"]}) == 10
    assert store.count({"entity": "nike"}) == 5
    assert store.count({"entity": "nike", "platform": "facebook"}) == 3
    with pytest.raises(ValueError, match="not a store field"):
        store.count({"text; DROP": "x"})


def test_keyword_search_with_filters(store):
    store.upsert(pd.concat([records(6), records(4, platform="tiktok")], ignore_index=True))
    hits = store.keyword_search("shoes", where={"platform": "tiktok"}, limit=10)

    assert set(hits["platform"]) == {"tiktok"}
    assert len(hits) == 2 and hits["text"].str.contains("shoes").all()


def test_vector_search_skips_posts_without_vectors(store):
    frame = records(6)
    rng = np.random.default_rng(0)
    vectors = [rng.normal(size=DIM).astype("float32") for _ in range(6)]
    frame["vector"] = [v.tolist() if i < 4 else None for i, v in enumerate(vectors)]
    store.upsert(frame)

    nearest = store.vector_search(vectors[2], limit=3)
    assert nearest["post_id"].iloc[0] == "facebook-2"
    assert not set(nearest["post_id"]) & {"facebook-4", "facebook-5"}
    assert store.coverage("vector") == pytest.approx(4 / 6)


def test_delete_a_batch(store):
    store.upsert(records(10))
    assert store.delete(["facebook-1", "facebook-2", "nope"]) == 2
    assert store.count() == 8


def test_filter_values_are_quoted():
    assert filter_sql({"author": "o'brien"}) == "author = 'o''brien'"
