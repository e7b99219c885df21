"""The API's query batcher, on the packaged MiniLM query encoder: queries waiting together are encoded as one
batch, each caller gets its own query's vector (the one a lone query gets), and an encoder error reaches
every caller of its batch."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from mlds_assets.core.embeddings import query_encoder
from mlds_assets.service.query_batching import QueryBatcher, embedding_batcher

QUERIES = ["delayed flight", "refund for my order please", "battery", "🔋 dies fast!!"]  # within 2x of 32 chars


class HeldEncoder:
    """The real encoder, whose first call waits until the test lets it go: what arrives meanwhile waits."""

    def __init__(self):
        self.encoder, self.first_call, self.release = query_encoder(None), threading.Event(), threading.Event()
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.first_call.set()
            assert self.release.wait(timeout=60)
        return self.encoder.encode(texts)


def test_queries_that_wait_together_are_encoded_as_one_batch_each_getting_its_own_vector():
    held = HeldEncoder()
    batcher = embedding_batcher(held)
    first = batcher.submit(QUERIES[0])
    assert held.first_call.wait(timeout=60)  # the batcher is encoding the first query alone
    later = [batcher.submit(text) for text in QUERIES[1:]]
    held.release.set()
    vectors = [future.result(timeout=60) for future in [first, *later]]
    assert held.calls == [QUERIES[:1], sorted(QUERIES[1:], key=len)] and batcher.batch_sizes == [1, 3]
    for text, vector in zip(QUERIES, vectors, strict=True):
        alone = held.encoder.encode([text])[0]
        assert len(vector) == alone.shape[0] and np.allclose(vector, alone, atol=1e-5), text
    assert not np.allclose(vectors[0], vectors[1], atol=1e-2)  # each its own, not a neighbour's


def test_a_batch_holds_at_most_max_batch_queries():
    held = HeldEncoder()
    batcher = QueryBatcher(lambda texts: held(texts).tolist(), max_batch=2)
    first = batcher.submit("first")
    assert held.first_call.wait(timeout=60)
    rest = [batcher.submit(text) for text in QUERIES]
    held.release.set()
    assert all(len(f.result(timeout=60)) == 384 for f in [first, *rest])
    assert batcher.batch_sizes == [1, 2, 2]


def test_an_encoder_error_reaches_every_caller_of_its_batch_and_the_next_batch_is_served():
    fails = {"yes": True}

    def encode(texts: list[str]) -> np.ndarray:
        if fails["yes"]:
            raise ValueError(f"cannot encode {len(texts)} queries")
        return np.ones((len(texts), 3), dtype=np.float32)

    batcher = embedding_batcher(encode)
    with pytest.raises(ValueError, match="cannot encode 1 queries"):
        batcher.submit("x").result(timeout=60)
    fails["yes"] = False
    assert batcher.submit("y").result(timeout=60) == [1.0, 1.0, 1.0]


def test_concurrent_requests_on_an_event_loop_get_their_own_vectors():
    encoder = query_encoder(None)
    batcher = embedding_batcher(encoder.encode)

    async def many() -> list[list[float]]:
        return await asyncio.gather(*(batcher.ask(text) for text in QUERIES * 5))

    vectors = asyncio.run(many())
    assert sum(batcher.batch_sizes) == len(QUERIES) * 5
    for text, vector in zip(QUERIES * 5, vectors, strict=True):
        assert np.allclose(vector, encoder.encode([text])[0], atol=1e-5), text


def test_queries_of_very_different_lengths_are_encoded_apart_and_answered_in_order():
    """A long query is not padded onto short ones (each padded token costs a real one's work): one
    encoding per group of similar length, every caller still gets its own query's vector."""
    held = HeldEncoder()
    batcher = embedding_batcher(held)
    first = batcher.submit("first")
    assert held.first_call.wait(timeout=60)
    long = "my order never arrived and nobody answers the phone, " * 4  # 212 characters
    texts = ["battery", long, "delayed flight", "refund please", long[:100]]
    later = [batcher.submit(text) for text in texts]
    held.release.set()
    vectors = [future.result(timeout=60) for future in later]
    assert first.result(timeout=60) and held.calls[1:] == [["battery", "refund please", "delayed flight"],
                                                           [long[:100]], [long]]  # fmt: skip
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, held.encoder.encode([text])[0], atol=1e-5), text


def test_semantic_searches_waiting_together_with_the_same_filter_are_one_store_query(tmp_path):
    """The API's vector searches on the LanceDB store (semantic searches, hybrid searches' vector legs):
    those waiting together with the same filter, limit and columns go as one multi-vector query, the others
    apart; each caller gets the hits its vector gets alone, with their row ids."""
    import pandas as pd

    from mlds_assets.service.query_batching import NearestQuery, nearest_batcher
    from mlds_assets.store.lancedb_store import LanceDBPostStore
    from mlds_assets_tests.store.test_contract import DIM, lancedb_alone, records

    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    frame = pd.concat([records(12), records(12, platform="tiktok")], ignore_index=True)
    vectors = np.random.default_rng(3).normal(size=(len(frame), DIM)).astype("float32").tolist()
    store.upsert(frame.assign(vector=vectors))
    searched, first_call, release = [], threading.Event(), threading.Event()
    search_many = store.vector_search_many

    def held(many, where, limit, columns, with_row_id):
        searched.append((len(many), where, limit))
        if len(searched) == 1:
            first_call.set()
            assert release.wait(timeout=60)
        return search_many(many, where, limit, columns, with_row_id=with_row_id)

    store.vector_search_many = held
    batcher = nearest_batcher(store)
    tiktok = {"platform": "tiktok"}
    asked = [NearestQuery(vectors[0], None, 3, None)]
    first = batcher.submit(asked[0])
    assert first_call.wait(timeout=60)  # the batcher is searching the first alone
    asked += [NearestQuery(vectors[1], tiktok, 3, None), NearestQuery(vectors[2], None, 3, None),
              NearestQuery(vectors[13], tiktok, 3, None), NearestQuery(vectors[4], None, 5, ("post_id",))]  # fmt: skip
    later = [batcher.submit(query) for query in asked[1:]]
    release.set()
    answers = [future.result(timeout=60) for future in [first, *later]]
    assert searched == [(1, None, 3), (2, tiktok, 3), (1, None, 3), (1, None, 5)]
    assert batcher.batch_sizes == [1, 2, 1, 1]
    for query, hits in zip(asked, answers, strict=True):
        alone = lancedb_alone(store, query.vector, query.where, query.limit)
        assert hits.column("post_id").to_pylist() == alone["post_id"].tolist(), query.where
        assert np.allclose(hits.column("_distance").to_numpy(), alone["_distance"])
    assert answers[3].column("post_id").to_pylist()[0] == "tiktok-1"  # its own post first, not a neighbour's
    assert answers[4].column_names == ["post_id", "_distance", "_rowid"]  # row ids: a hybrid search fuses on them


def test_a_store_handle_dropped_is_not_kept_open_by_its_semantic_search_batcher(tmp_path):
    import gc
    import weakref

    from mlds_assets.service.query_batching import NearestQuery, nearest_batcher
    from mlds_assets.store.lancedb_store import LanceDBPostStore
    from mlds_assets_tests.store.test_contract import DIM, records

    store = LanceDBPostStore(str(tmp_path / "store"), vector_dim=DIM)
    store.upsert(records(3).assign(vector=[[float(k)] * DIM for k in range(1, 4)]))
    batcher = nearest_batcher(store)
    assert nearest_batcher(store) is batcher
    assert len(batcher.submit(NearestQuery([1.0] * DIM, None, 2, None)).result(timeout=60)) == 2
    dropped = weakref.ref(store)
    del store
    gc.collect()
    assert dropped() is None


def test_a_caller_that_gave_up_is_left_out_and_a_batch_that_cannot_be_grouped_fails_only_its_callers():
    """A request cancelled while its query waited (a client gone) is not run; a batch whose grouping raises
    fails its own callers and the next batch is served (a dead thread would leave every later caller
    waiting)."""
    held = HeldEncoder()
    batcher = embedding_batcher(held)
    first = batcher.submit("first")
    assert held.first_call.wait(timeout=60)
    gone, kept = batcher.submit("gone"), batcher.submit("kept")
    assert gone.cancel()
    held.release.set()
    assert len(first.result(timeout=60)) == len(kept.result(timeout=60)) == 384
    assert held.calls[1:] == [["kept"]]

    unsplittable = QueryBatcher(lambda items: [item * 2 for item in items], group=lambda items: [[len(items[0])]])
    with pytest.raises(TypeError):  # len() of an int
        unsplittable.submit(3).result(timeout=60)
    with pytest.raises(TypeError):  # the next caller is answered too (a hung thread would time out)
        unsplittable.submit(4).result(timeout=60)
