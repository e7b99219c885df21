"""Query vectors for a server under concurrent searches: the queries waiting at one moment are embedded as
one batch. A query's encoding reads every weight of the model (about 42 MB for MiniLM) for a handful of
tokens, so it is bound by memory, not arithmetic, and the encoder serves one caller at a time: twenty
clients searching at once queued twenty weight reads behind each other. One batch reads the weights once
for all of them. The vectors are the ones a lone query gets (padding is masked), to float32 rounding."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import cache

import numpy as np

MAX_BATCH = 32  # queries per encoding; more wait for the next one (a long batch delays its first query)
# Queries are padded to the longest of their encoding, and every padded token costs as much as a real one:
# one encoding takes queries whose lengths (in characters, at least SHORT) are within a factor of SPREAD.
SHORT, SPREAD = 32, 2.0


class QueryBatcher:
    """One thread embeds what callers submit, taking everything waiting (up to `max_batch`) per encoding.
    Nothing waits for a batch to fill: a query alone is encoded at once, as before."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch: int = MAX_BATCH):
        self._encode, self._max_batch = encode, max_batch
        self._waiting: list[tuple[str, Future]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self.batch_sizes: list[int] = []  # per encoding, for tests and diagnostics (bounded below)

    def submit(self, text: str) -> Future:
        """A future of the query's unit vector (a list of floats), or of the encoder's error."""
        future: Future = Future()
        with self._ready:
            self._waiting.append((text, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="mlds-query-batcher", daemon=True)
                self._thread.start()
            self._ready.notify()
        return future

    async def embed(self, text: str) -> list[float]:
        """For an event loop: waits without holding it."""
        return await asyncio.wrap_future(self.submit(text))

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._waiting:
                    self._ready.wait()
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            self._run(batch)

    def _run(self, batch: Sequence[tuple[str, Future]]) -> None:
        for group in similar_lengths(batch):
            self._encode_group(group)

    def _encode_group(self, batch: Sequence[tuple[str, Future]]) -> None:
        self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
        try:
            vectors = self._encode([text for text, _ in batch])
        except BaseException as error:  # every caller of the batch gets the encoder's error
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), vector in zip(batch, vectors, strict=True):
            future.set_result(np.asarray(vector, dtype=np.float32).tolist())


def similar_lengths(batch: Sequence[tuple[str, Future]]) -> list[list[tuple[str, Future]]]:
    """The batch in groups of similar length, shortest first: one 250-token query among 31 short ones
    would otherwise pad all 32 to 250 tokens (ten times the work of encoding them one by one)."""
    groups: list[list[tuple[str, Future]]] = []
    for item in sorted(batch, key=lambda item: len(item[0])):
        size = max(len(item[0]), SHORT)
        if groups and size <= SPREAD * max(len(groups[-1][0][0]), SHORT):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


@cache
def query_batcher(model: str | None, device: str = "cpu", bf16_on_cpu: bool = False) -> QueryBatcher:
    """The process's batcher for one encoder configuration (the API has one)."""
    from mlds_assets.core.embeddings import query_encoder

    return QueryBatcher(query_encoder(model, device, bf16_on_cpu).encode)
