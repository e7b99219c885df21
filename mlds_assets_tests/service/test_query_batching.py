"""The API's query batcher, on the packaged MiniLM query encoder: queries waiting together are encoded as one
batch, each caller gets its own query's vector (the one a lone query gets), and an encoder error reaches
every caller of its batch."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from mlds_assets.core.embeddings import query_encoder
from mlds_assets.service.query_batching import QueryBatcher

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
    batcher = QueryBatcher(held)
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
    batcher = QueryBatcher(held, max_batch=2)
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

    batcher = QueryBatcher(encode)
    with pytest.raises(ValueError, match="cannot encode 1 queries"):
        batcher.submit("x").result(timeout=60)
    fails["yes"] = False
    assert batcher.submit("y").result(timeout=60) == [1.0, 1.0, 1.0]


def test_concurrent_requests_on_an_event_loop_get_their_own_vectors():
    encoder = query_encoder(None)
    batcher = QueryBatcher(encoder.encode)

    async def many() -> list[list[float]]:
        return await asyncio.gather(*(batcher.embed(text) for text in QUERIES * 5))

    vectors = asyncio.run(many())
    assert sum(batcher.batch_sizes) == len(QUERIES) * 5
    for text, vector in zip(QUERIES * 5, vectors, strict=True):
        assert np.allclose(vector, encoder.encode([text])[0], atol=1e-5), text


def test_queries_of_very_different_lengths_are_encoded_apart_and_answered_in_order():
    """A long query is not padded onto short ones (each padded token costs a real one's work): one
    encoding per group of similar length, every caller still gets its own query's vector."""
    held = HeldEncoder()
    batcher = QueryBatcher(held)
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
