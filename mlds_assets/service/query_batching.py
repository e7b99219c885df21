"""A server's queries under concurrent requests: the ones waiting at one moment go as one batch. Two uses:

- Query vectors. A query's encoding reads every weight of the model (about 42 MB for MiniLM) for a handful of
  tokens, so it is bound by memory, not arithmetic, and the encoder serves one caller at a time: twenty
  clients searching at once queued twenty weight reads behind each other. One batch reads the weights once
  for all of them. The vectors are the ones a lone query gets (padding is masked), to float32 rounding.
- Semantic searches on the embedded LanceDB store. A LanceDB query costs ~3 ms of CPU before it reads a row;
  the vectors waiting together with the same filter and limit are one multi-vector query, whose hits for
  each vector are the ones a search of it alone finds."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar

import numpy as np

Item, Result = TypeVar("Item"), TypeVar("Result")

MAX_BATCH = 32  # items per batch; more wait for the next one (a long batch delays its first caller)
# Queries are padded to the longest of their encoding, and every padded token costs as much as a real one:
# one encoding takes queries whose lengths (in characters, at least SHORT) are within a factor of SPREAD.
SHORT, SPREAD = 32, 2.0


class QueryBatcher(Generic[Item, Result]):
    """One thread runs what callers submit, taking everything waiting (up to `max_batch`) at a time, split by
    `group` (lists of positions in the batch) into calls of `run`, which returns one result per item.
    Nothing waits for a batch to fill: an item alone runs at once. The thread ends when nothing waits."""

    def __init__(
        self,
        run: Callable[[list[Item]], Sequence[Result]],
        group: Callable[[Sequence[Item]], list[list[int]]] | None = None,
        max_batch: int = MAX_BATCH,
    ):
        self._run, self._group, self._max_batch = run, group or (lambda items: [list(range(len(items)))]), max_batch
        self._waiting: list[tuple[Item, Future]] = []
        self._lock = threading.Lock()
        self._serving = False
        self.batch_sizes: list[int] = []  # per call of `run`, for tests and diagnostics (bounded below)

    def submit(self, item: Item) -> Future:
        """A future of the item's result, or of `run`'s error."""
        future: Future = Future()
        with self._lock:
            self._waiting.append((item, future))
            start, self._serving = not self._serving, True
        if start:
            threading.Thread(target=self._serve, name="mlds-query-batcher", daemon=True).start()
        return future

    async def ask(self, item: Item) -> Result:
        """For an event loop: waits without holding it."""
        return await asyncio.wrap_future(self.submit(item))

    def _serve(self) -> None:
        while True:
            with self._lock:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                if not batch:
                    self._serving = False
                    return
            # a caller that gave up (its request cancelled) is left out; the others can no longer cancel
            batch = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
            try:
                groups = self._group([item for item, _ in batch])
            except BaseException as error:  # the callers fail, not the thread every later caller waits on
                _fail(batch, error)
                continue
            for positions in groups:
                self._run_group([batch[k] for k in positions])

    def _run_group(self, batch: Sequence[tuple[Item, Future]]) -> None:
        self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
        try:
            results = self._run([item for item, _ in batch])
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
        except BaseException as error:  # every caller of the batch still waiting gets the error
            _fail(batch, error)


def _fail(batch: Sequence[tuple[object, Future]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


def similar_lengths(texts: Sequence[str]) -> list[list[int]]:
    """The texts' positions in groups of similar length, shortest first: one 250-token query among 31 short
    ones would otherwise pad all 32 to 250 tokens (ten times the work of encoding them one by one)."""
    groups: list[list[int]] = []
    for position in sorted(range(len(texts)), key=lambda k: len(texts[k])):
        size = max(len(texts[position]), SHORT)
        if groups and size <= SPREAD * max(len(texts[groups[-1][0]]), SHORT):
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def embedding_batcher(encode: Callable[[list[str]], np.ndarray]) -> QueryBatcher[str, list[float]]:
    """Query texts to unit vectors (lists of floats), encoded in groups of similar length."""
    return QueryBatcher(lambda texts: np.asarray(encode(texts), dtype=np.float32).tolist(), similar_lengths)


@cache
def query_batcher(model: str | None, device: str = "cpu", bf16_on_cpu: bool = False) -> QueryBatcher:
    """The process's embedding batcher for one encoder configuration (the API has one)."""
    from mlds_assets.core.embeddings import query_encoder

    return embedding_batcher(query_encoder(model, device, bf16_on_cpu).encode)


@dataclass(frozen=True)
class NearestQuery:
    """One semantic search: its vector, and what must be equal for searches to share a LanceDB query."""

    vector: list[float]
    where: dict | None
    limit: int
    columns: tuple[str, ...] | None

    def same_search(self) -> Hashable:
        return repr(sorted((self.where or {}).items())), self.limit, self.columns


def same_searches(queries: Sequence[NearestQuery]) -> list[list[int]]:
    """Positions of the queries that can share one multi-vector query, in order of arrival."""
    groups: dict[Hashable, list[int]] = {}
    for position, query in enumerate(queries):
        groups.setdefault(query.same_search(), []).append(position)
    return list(groups.values())


_nearest: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_nearest_lock = threading.Lock()


def nearest_batcher(store) -> QueryBatcher[NearestQuery, object]:
    """The vector-search batcher of one LanceDB store handle (the API has one): semantic searches and hybrid
    searches' vector legs, their hits with `_rowid` (what the hybrid fusion joins on). It holds the store
    weakly, so a handle dropped is not kept open by its batcher."""
    with _nearest_lock:
        if store not in _nearest:
            handle = weakref.ref(store)

            def search(queries: list[NearestQuery]) -> list:
                first, opened = queries[0], handle()
                if opened is None:
                    raise RuntimeError("the post store handle was closed while searches were waiting")
                vectors = [query.vector for query in queries]
                return opened.vector_search_many(vectors, first.where, first.limit, first.columns, with_row_id=True)

            _nearest[store] = QueryBatcher(search, same_searches)
        return _nearest[store]
