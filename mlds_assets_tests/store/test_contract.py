"""One contract for every post-store backend. LanceDB runs here always; Weaviate runs when
MLDS_TEST_WEAVIATE_URL points at a server (e.g. http://localhost:8080 after `docker compose up -d`) and is
skipped with that reason otherwise: no Weaviate server can run on this project's CI machines."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

from mlds_assets.store import PostStore
from mlds_assets.store.lancedb_store import LanceDBPostStore, filter_sql, fuse_by_rank

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


def weaviate_store():
    url = os.environ.get("MLDS_TEST_WEAVIATE_URL")
    if not url:
        pytest.skip("MLDS_TEST_WEAVIATE_URL is not set: no Weaviate server to test against")
    from mlds_assets.store.weaviate_store import WeaviateConnection, WeaviatePostStore

    parsed = urlparse(url)
    suffix = uuid.uuid4().hex[:8]
    connection = WeaviateConnection(
        mode="custom",
        host=parsed.hostname or "localhost",
        port=parsed.port or 8080,
        grpc_port=int(os.environ.get("MLDS_TEST_WEAVIATE_GRPC_PORT", "50051")),
        secure=parsed.scheme == "https",
        collections={"facebook": f"TestFacebook{suffix}", "tiktok": f"TestTiktok{suffix}"},
    )
    return WeaviatePostStore(connection, vector_dim=DIM, batch_size=7)


@pytest.fixture(params=["lancedb", "weaviate"])
def store(request, tmp_path):
    if request.param == "lancedb":
        backend = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM, write_batch_rows=7)
        backend.ensure_collection()
        yield backend
        return
    backend = weaviate_store()
    backend.ensure_collection()
    yield backend
    for name in backend.connection.collections.values():
        backend.client.collections.delete(name)
    backend.client.close()


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
    assert "vector" not in hits.columns  # hits are for reading; no reader wants 384 floats per post


def test_vector_search_skips_posts_without_vectors(store):
    frame = records(6)
    rng = np.random.default_rng(0)
    vectors = [rng.normal(size=DIM).astype("float32") for _ in range(6)]
    frame["vector"] = [v.tolist() if i < 4 else None for i, v in enumerate(vectors)]
    store.upsert(frame)

    nearest = store.vector_search(vectors[2], limit=3)
    assert nearest["post_id"].iloc[0] == "facebook-2"
    assert not set(nearest["post_id"]) & {"facebook-4", "facebook-5"}
    assert len(store.vector_search(vectors[2], limit=6)) == 4  # asked for all: only the posts with a vector
    assert "vector" not in nearest.columns and "text" in nearest.columns
    assert store.coverage("vector") == pytest.approx(4 / 6)


def test_hybrid_search_fuses_keyword_and_vector_hits_with_filters(store):
    frame = pd.concat([records(6), records(4, platform="tiktok")], ignore_index=True)
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(10, DIM)).astype("float32")
    frame["vector"] = [v.tolist() for v in vectors]
    frame.loc[4, "vector"] = None  # not embedded yet: found by keyword only
    frame.loc[5, "vector"] = None  # not embedded and no "battery": not found
    store.upsert(frame)

    # "battery" matches the even posts by keyword; the vector is facebook-3's, which does not say it.
    hits = store.hybrid_search("battery", vectors[3].tolist(), where={"platform": "facebook"}, limit=10)
    found = set(hits["post_id"])
    assert set(hits["platform"]) == {"facebook"}
    assert "facebook-3" in found  # from the vector side
    assert {"facebook-0", "facebook-2", "facebook-4"} <= found  # from the keyword side
    assert hits["_score"].is_monotonic_decreasing
    assert "facebook-5" not in found
    assert "vector" not in hits.columns and "text" in hits.columns


def test_delete_a_batch(store):
    store.upsert(records(10))
    assert store.delete(["facebook-1", "facebook-2", "nope"]) == 2
    assert store.count() == 8


def test_filter_values_are_quoted():
    assert filter_sql({"author": "o'brien"}) == "author = 'o''brien'"


def test_lancedb_builds_a_vector_index_once_enough_vectors_exist(tmp_path):
    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM, vector_index_min_rows=300)
    frame = records(400)
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(400, DIM)).astype("float32")
    frame["vector"] = [v.tolist() if i < 250 else None for i, v in enumerate(vectors)]
    store.upsert(frame)
    store.optimize()
    assert ("vector",) not in {tuple(i.columns) for i in store.table.list_indices()}  # 250 < 300

    store.update_fields(
        pd.DataFrame({"post_id": frame["post_id"][250:], "vector": [v.tolist() for v in vectors[250:]]})
    )
    store.optimize()
    assert ("vector",) in {tuple(i.columns) for i in store.table.list_indices()}
    assert store.vector_search(vectors[7].tolist(), limit=1)["post_id"].tolist() == ["facebook-7"]


def test_lancedb_optimize_prunes_old_versions(tmp_path):
    from datetime import timedelta

    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    for _ in range(4):
        store.upsert(records(10))
    before = len(store.table.list_versions())
    store.optimize(keep_versions_for=timedelta(0))

    assert len(store.table.list_versions()) < before
    assert store.count() == 10 and store.keyword_search("shoes", limit=20)["post_id"].nunique() == 5


def test_a_long_lived_lancedb_reader_sees_later_writes_of_another_handle(tmp_path):
    """The read API keeps one handle for its lifetime: with a zero read-consistency interval it sees
    what the pipeline (another handle, another process) commits after it opened; LanceDB's default does not."""
    from datetime import timedelta

    uri = str(tmp_path / "store")
    writer = LanceDBPostStore(uri, vector_dim=DIM)
    writer.upsert(records(4))
    fresh = LanceDBPostStore(uri, vector_dim=DIM, read_consistency_interval=timedelta(0))
    pinned = LanceDBPostStore(uri, vector_dim=DIM)
    assert fresh.count() == pinned.count() == 4
    assert len(fresh.keyword_search("shoes", limit=20)) == 2

    writer.upsert(records(6, start=4))
    assert fresh.count() == 10 and len(fresh.keyword_search("shoes", limit=20)) == 5
    assert pinned.count() == 4  # a handle without the interval reads the table as it first saw it


def test_lancedb_searches_of_every_mode_log_nothing_per_query(tmp_path, capfd):
    """A long-lived reader (the API) searches thousands of times: Lance must not write a warning per query to
    stderr (selecting columns in a search did: a `_score` deprecation warning, which also filled an unread
    pipe and stalled a server)."""
    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    frame = records(6)
    frame["vector"] = [np.random.default_rng(i).normal(size=DIM).astype("float32").tolist() for i in range(6)]
    store.upsert(frame)
    capfd.readouterr()
    vector = frame["vector"].iloc[1]
    for _ in range(3):
        hits = [store.keyword_search("shoes"), store.vector_search(vector), store.hybrid_search("shoes", vector)]
        assert all(len(h) and "vector" not in h.columns for h in hits)
    captured = capfd.readouterr()
    assert "WARN" not in captured.err and "warning" not in captured.err.lower(), captured.err[-2000:]


def test_lancedb_async_search_returns_what_the_sync_search_returns_and_sees_later_writes(tmp_path):
    """The read API searches by keyword through LanceDB's async API on its event loop, by vector several
    vectors to a query (`vector_search_many`), and fuses the two for a hybrid search: the same hits, scores
    and columns as the sync searches the CLI uses, in every mode and with filters; a write committed later
    by another handle is found; before a sync search has checked the indexes the async search refuses (the
    API falls back). Asked for some columns, a search reads only those and its score."""
    import asyncio
    from datetime import timedelta

    uri = str(tmp_path / "store")
    writer = LanceDBPostStore(uri, vector_dim=DIM)
    frame = pd.concat([records(6), records(4, platform="tiktok")], ignore_index=True)
    vectors = np.random.default_rng(5).normal(size=(10, DIM)).astype("float32")
    frame["vector"] = [v.tolist() if i != 4 else None for i, v in enumerate(vectors)]
    writer.upsert(frame)
    reader = LanceDBPostStore(uri, vector_dim=DIM, read_consistency_interval=timedelta(0))
    vector = vectors[3].tolist()

    async def server_search(mode: str, query: str, where, columns=None) -> pd.DataFrame:
        """As `service.store.search_async` composes them (there the vector leg goes through a batcher)."""
        if mode == "keyword":
            return (await reader.keyword_search_async(query, where, 10, columns)).to_pandas()
        vector_hits = reader.vector_search_many([vector], where, 10, columns, with_row_id=True)[0]
        if mode == "semantic":
            return vector_hits.drop_columns(["_rowid"]).to_pandas()
        keyword_hits = await reader.keyword_search_async(query, where, 10, columns, with_row_id=True)
        return fuse_by_rank(query, vector_hits, keyword_hits, 10).to_pandas()

    async def both_ways() -> None:
        assert not reader.searchable
        with pytest.raises(RuntimeError, match="before the first search"):
            await reader.keyword_search_async("shoes")
        sync = {
            "keyword": lambda where: reader.keyword_search("shoes", where, limit=10),
            "semantic": lambda where: reader.vector_search(vector, where, limit=10),
            "hybrid": lambda where: reader.hybrid_search("battery", vector, where, limit=10),
        }
        for mode, search in sync.items():
            for where in (None, {"platform": "tiktok"}, {"entity": "nike"}):
                expected = search(where)
                query = "battery" if mode == "hybrid" else "shoes"
                got = await server_search(mode, query, where)
                assert len(expected) > 0, (mode, where)
                assert got["post_id"].tolist() == expected["post_id"].tolist(), (mode, where)
                assert list(got.columns) == list(expected.columns) and "vector" not in got.columns
                score = "_distance" if mode == "semantic" else "_score"
                assert np.allclose(got[score], expected[score]), (mode, where)
                shown = ["post_id", "text", "sentiment_label", "no_such_column", "_score", "_distance"]
                narrow = await server_search(mode, query, where, shown)
                assert narrow["post_id"].tolist() == expected["post_id"].tolist(), (mode, where)
                assert np.allclose(narrow[score], expected[score]), (mode, where)
                # what was asked for that the table has, and the search's score: not the vector
                assert list(narrow.columns) == ["post_id", "text", "sentiment_label", score], mode

        writer.upsert(records(4, start=10))  # four more posts, two about shoes
        later = (await reader.keyword_search_async("shoes", None, 20)).to_pandas()
        assert len(later) == 7 and {"facebook-11", "facebook-13"} <= set(later["post_id"])

    asyncio.run(both_ways())


def test_lancedb_async_searches_arriving_while_the_async_handle_opens_read_the_columns_asked(tmp_path, monkeypatch):
    """The API's first keyword searches after start-up arrive together: one arriving while another opens
    the async table (between opening it and reading its schema) read no column but the score, and the
    API answered hits without a post id. The schema read is held here until the second search has begun."""
    import asyncio

    from mlds_assets.store import lancedb_store

    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    store.upsert(records(6))
    assert len(store.keyword_search("shoes")) == 3  # the sync search checks the indexes: now searchable
    connect_async = lancedb_store.lancedb.connect_async

    async def run() -> list[list[str]]:
        schema_asked, release = asyncio.Event(), asyncio.Event()

        class HeldSchema:
            def __init__(self, table):
                self._table = table

            def __getattr__(self, name):
                return getattr(self._table, name)

            async def schema(self):
                schema_asked.set()
                await release.wait()
                return await self._table.schema()

        class Connection:
            def __init__(self, db):
                self._db = db

            async def open_table(self, name):
                return HeldSchema(await self._db.open_table(name))

        async def held_connect(*args, **kwargs):
            return Connection(await connect_async(*args, **kwargs))

        monkeypatch.setattr(lancedb_store.lancedb, "connect_async", held_connect)
        asked = ["post_id", "text"]
        first = asyncio.create_task(store.keyword_search_async("shoes", None, 10, asked))
        await schema_asked.wait()  # the first search has the table open and waits for its schema
        second = asyncio.create_task(store.keyword_search_async("shoes", None, 10, asked))
        await asyncio.sleep(0)  # the second begins (it used to search at once, with no column)
        release.set()
        return [hits.column_names for hits in await asyncio.gather(first, second)]

    assert asyncio.run(run()) == [["post_id", "text", "_score"]] * 2


def lancedb_alone(store: LanceDBPostStore, vector, where, limit: int) -> pd.DataFrame:
    """A vector's hits from LanceDB's own search of it alone, not through the store's code."""
    search = store.table.search(list(vector), vector_column_name="vector").limit(limit)
    return (search.where(filter_sql(where), prefilter=True) if where else search).to_pandas()


def test_lancedb_vector_search_many_gives_each_vector_the_hits_it_gets_alone(tmp_path, capfd):
    """Several vectors in one LanceDB query (the API's concurrent semantic searches): each vector's hits in
    order with their distances, as a search of it alone finds them, with and without a filter; a vector
    with no hit under the filter gets an empty table, not a neighbour's hits; nothing logged per query."""
    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    frame = pd.concat([records(30), records(10, platform="tiktok")], ignore_index=True)
    vectors = np.random.default_rng(11).normal(size=(40, DIM)).astype("float32")
    frame["vector"] = [v.tolist() if i % 7 else None for i, v in enumerate(vectors)]
    store.upsert(frame)
    asked = [vectors[k].tolist() for k in (1, 8, 15, 33)] + [np.ones(DIM, dtype="float32").tolist()]
    capfd.readouterr()
    for where in (None, {"platform": "tiktok"}, {"platform": "tiktok", "entity": "nike"}, {"platform": "x"}):
        together = store.vector_search_many(asked, where, limit=4, columns=["post_id", "platform"])
        assert len(together) == len(asked)
        for vector, hits in zip(asked, together, strict=True):
            alone = lancedb_alone(store, vector, where, limit=4)
            assert store.vector_search(vector, where, 4)["post_id"].tolist() == alone["post_id"].tolist()
            assert hits.column_names == ["post_id", "platform", "_distance"]
            assert hits.column("post_id").to_pylist() == alone["post_id"].tolist(), where
            assert np.allclose(hits.column("_distance").to_numpy(), alone["_distance"]), where
            assert len(hits) == (0 if where == {"platform": "x"} else 4), where
    nearest = store.vector_search_many(asked[:3], None, 1)  # each of these posts is its own nearest
    assert [hits.column("post_id").to_pylist() for hits in nearest] == [["facebook-1"], ["facebook-8"], ["facebook-15"]]
    assert store.vector_search_many(asked[:1], None, 3)[0].num_rows == 3 and store.vector_search_many([], None, 3) == []
    with pytest.raises(ValueError, match=f"vector has 2 dimensions; the store has {DIM}"):
        store.vector_search_many([asked[0], [1.0, 2.0]], None, 3)
    captured = capfd.readouterr()
    assert "WARN" not in captured.err and "warning" not in captured.err.lower(), captured.err[-2000:]


def lancedb_hybrid_alone(store: LanceDBPostStore, query: str, vector, where, limit: int) -> pd.DataFrame:
    """LanceDB's own hybrid query (its two legs and its fusion), not through the store's code."""
    from lancedb.rerankers import RRFReranker

    search = store.table.search(query_type="hybrid", vector_column_name="vector").vector(list(vector)).text(query)
    search = search.rerank(RRFReranker()).limit(limit)
    return (search.where(filter_sql(where), prefilter=True) if where else search).to_pandas()


def test_lancedb_hybrid_search_ranks_as_lancedbs_own_hybrid_query(tmp_path, capfd):
    """The store runs a hybrid search's two legs itself (the API searches the vector leg several to a query)
    and fuses them by rank: the posts, their order and their fused scores are those of LanceDB's own hybrid
    query, with filters, with posts found by one leg only (no vector yet, or no matching word), at limits
    below and above the hits; nothing found is an empty result with a score column; nothing logged."""
    rng = np.random.default_rng(21)
    words = ["battery", "shoes", "refund", "order", "late", "screen", "lace", "price", "store", "happy"]
    frame = pd.concat([records(30), records(10, platform="tiktok")], ignore_index=True)
    frame["text"] = [" ".join(rng.choice(words, size=rng.integers(2, 7))) for _ in range(len(frame))]
    vectors = rng.normal(size=(len(frame), DIM)).astype("float32")
    frame["vector"] = [v.tolist() if i % 5 else None for i, v in enumerate(vectors)]
    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    store.upsert(frame)
    capfd.readouterr()
    for query, vector in (("battery", vectors[3]), ("refund order late", vectors[12]), ("zebra", vectors[7])):
        for where in (None, {"platform": "tiktok"}, {"platform": "facebook", "entity": "nike"}, {"platform": "x"}):
            for limit in (3, 50):
                ours = store.hybrid_search(query, vector.tolist(), where, limit)
                theirs = lancedb_hybrid_alone(store, query, vector, where, limit)
                assert ours["post_id"].tolist() == theirs["post_id"].tolist(), (query, where, limit)
                assert np.allclose(ours["_score"], theirs["_relevance_score"]), (query, where, limit)
                assert "_score" in ours.columns and not {"vector", "_distance", "_rowid"} & set(ours.columns)
                if len(theirs):
                    shown = [c for c in theirs.columns if c not in ("vector", "_relevance_score")]
                    assert list(ours.columns) == [*shown, "_score"]
                if where == {"platform": "x"}:
                    assert ours.empty
    both = store.hybrid_search("zebra", vectors[7].tolist(), None, 50)  # no post says zebra: the vector leg
    assert set(both["post_id"]) == set(frame["post_id"][frame["vector"].notna()])
    words_only = store.hybrid_search("battery", vectors[7].tolist(), None, 50)  # the posts without a vector too
    assert set(frame["post_id"][frame["vector"].isna() & frame["text"].str.contains("battery")]) <= set(
        words_only["post_id"]
    )
    captured = capfd.readouterr()
    assert "WARN" not in captured.err and "warning" not in captured.err.lower(), captured.err[-2000:]


def test_the_api_search_falls_back_to_the_sync_search_until_a_search_has_checked_the_indexes(tmp_path, settings):
    """`service.store.search_async` (the API's): a handle no search has checked yet is searched the sync way
    in a worker thread, and then the async way, with the same hits and filters either way."""
    import asyncio

    from mlds_assets.service.store import SearchQuery, search, search_async

    uri = str(tmp_path / "store")
    LanceDBPostStore(uri, vector_dim=DIM).upsert(pd.concat([records(6), records(4, platform="tiktok")]))
    handle = LanceDBPostStore(uri, vector_dim=DIM)
    query = SearchQuery("shoes", mode="keyword", platform="tiktok", entity="nike", limit=5)
    assert not handle.searchable
    first = asyncio.run(search_async(settings, query, handle, ["post_id", "platform"]))
    assert handle.searchable  # the sync search built and checked the indexes
    then = asyncio.run(search_async(settings, query, handle, ["post_id", "platform"]))
    expected = search(settings, "shoes", platform="tiktok", entity="nike", limit=5, mode="keyword", store=handle)
    assert first["post_id"].tolist() == then["post_id"].tolist() == expected["post_id"].tolist()
    assert set(expected["post_id"]) == {"tiktok-1", "tiktok-3"}
    assert "text" in first.columns and list(then.columns) == ["post_id", "platform", "_score"]
