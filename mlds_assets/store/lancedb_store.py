"""The embedded default post store: LanceDB on local disk (or object storage), no server to run."""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from mlds_assets.store.base import (
    STORE_SCHEMA_FIELDS,
    StoreFilter,
    StoreWriteError,
    overlay_updates,
    retrying,
    store_schema,
)
from mlds_assets.store.deferred_imports import import_lancedb

lancedb = import_lancedb()  # without 1.4 s of import a local store never uses: see deferred_imports

_FIELDS = {name for name, _ in STORE_SCHEMA_FIELDS}
# What Lance writes under a temporary name and renames once complete (data/.tmpAbC123 for a data file,
# _indices/<uuid>/.tmpAbC123 for an index part, <name>.tmp / .tmp.<n> for a staged object). A writer killed
# before the rename leaves it behind, and Lance's own cleanup never removes it (it only knows *.lance,
# *.txn, deletion and index files).
_TEMP_NAME = re.compile(r"^\.tmp|\.tmp(?:$|[.-])")
RETRYABLE_COMMIT = ("Retryable commit conflict", "Commit conflict", "preempted by concurrent transaction")


class RetryableCommitConflict(RuntimeError):
    """Lance refused a commit because another writer committed first; the same write may simply be redone."""


def _commit(call):
    """Run a Lance write, turning its commit-conflict error (a plain RuntimeError/OSError from the Rust
    layer) into one `retrying` can name."""
    try:
        return call()
    except Exception as exc:
        if any(marker in str(exc) for marker in RETRYABLE_COMMIT):
            raise RetryableCommitConflict(str(exc)) from exc
        raise


def _quote(value: str | int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def filter_sql(where: StoreFilter | None) -> str | None:
    """A StoreFilter as a Lance SQL predicate. Field names are checked against the schema; values quoted."""
    if not where:
        return None
    parts = []
    for field, value in where.items():
        values = [value] if isinstance(value, str | int) else list(value)
        if field == "entity":
            parts.append(f"array_has_any(entities, [{', '.join(map(_quote, values))}])")
        elif field not in _FIELDS:
            raise ValueError(f"cannot filter on {field!r}: not a store field ({sorted(_FIELDS)})")
        elif len(values) == 1:
            parts.append(f"{field} = {_quote(values[0])}")
        else:
            parts.append(f"{field} IN ({', '.join(map(_quote, values))})")
    return " AND ".join(parts)


class LanceDBPostStore:
    """Upserts with `merge_insert` on post_id; null vectors until embeddings exist. Indexes are built by
    `optimize()` (and by the first keyword search): a B-tree on post_id, full text on text, and a vector
    index once `vector_index_min_rows` posts have vectors. Rows written since are still found (Lance
    searches unindexed rows too); the next `optimize()` folds them in and prunes old versions."""

    def __init__(
        self,
        uri: str,
        table: str = "posts",
        vector_dim: int = 384,
        write_batch_rows: int = 50_000,
        vector_index_min_rows: int = 10_000,
        write_attempts: int = 4,
        temp_file_grace: timedelta = timedelta(hours=1),
        sleep=time.sleep,
        read_consistency_interval: timedelta | None = None,
    ):
        """`read_consistency_interval`: None (LanceDB's default) reads the table as this handle last saw
        it; zero checks for other processes' commits on every read, which a long-lived reader (the API's
        one handle) needs to see every write."""
        self.uri, self.table_name, self.vector_dim = uri, table, vector_dim
        self.write_attempts, self._sleep = write_attempts, sleep
        self.write_batch_rows, self.vector_index_min_rows = write_batch_rows, vector_index_min_rows
        self._db = lancedb.connect(uri, read_consistency_interval=read_consistency_interval)
        self._read_consistency, self._async_table = read_consistency_interval, None
        self._async_columns: set[str] = set()  # the table's columns, read when the async handle opens
        self._table = None
        self._fts_ready = False
        local = "://" not in uri or uri.startswith("file://")
        self._lock_path = Path(uri.removeprefix("file://")) / f".{table}.write-lock" if local else None
        self._thread_lock, self._lock_depth = threading.RLock(), 0
        self.temp_file_grace, self._swept = temp_file_grace, False

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer of the table at a time, across processes. Lance's merge_insert does not see a key that
        a concurrent writer is inserting (both insert it: a post twice), and concurrent optimize() calls
        fail on commit conflicts. Dagster's `mlds_store` pool already serialises the pipeline's writers;
        this lock also covers anything else on the machine (`mlds store rebuild`, a notebook). On object
        storage there is no file to lock: the pool is the guarantee there."""
        with self._thread_lock:  # re-entrant: a write that first creates the table takes it twice
            if self._lock_path is None or self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock_path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._lock_depth += 1
                try:
                    if not self._swept:  # the first write of this process cleans up after a killed one
                        self._swept = True
                        self._remove_orphan_temp_files()
                    yield
                finally:
                    self._lock_depth -= 1
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _table_dir(self) -> Path | None:
        return self._lock_path.parent / f"{self.table_name}.lance" if self._lock_path is not None else None

    def _remove_orphan_temp_files(self) -> list[Path]:
        """Temporary files a killed writer left in the table folder (see _TEMP_NAME), untouched for longer
        than `temp_file_grace`. Called only under the write lock, so no store writer is producing one; the
        grace also spares a writer that does not take the lock (an index built by a search). Returns what
        it removed."""
        table_dir, removed = self._table_dir(), []
        if table_dir is None or not table_dir.is_dir():
            return removed
        cutoff = time.time() - self.temp_file_grace.total_seconds()
        for root, _dirs, files in os.walk(table_dir):
            for name in files:
                if not _TEMP_NAME.search(name):
                    continue
                path = Path(root) / name
                try:
                    if path.lstat().st_mtime <= cutoff:
                        path.unlink()
                        removed.append(path)
                except FileNotFoundError:
                    continue
        return removed

    # --- collection ---------------------------------------------------------------------------------

    def ensure_collection(self) -> None:
        if self._table is not None:
            return
        if self.table_name not in self._db.list_tables().tables:
            with self._writing():  # two first writers at once must not both create it
                self._db.create_table(self.table_name, schema=store_schema(self.vector_dim), exist_ok=True)
        self._table = self._db.open_table(self.table_name)

    @property
    def table(self):
        self.ensure_collection()
        return self._table

    def _missing_indexes(self) -> list[tuple[str, object]]:
        """(column, index config) for each index the table should have and has not."""
        if self.table.count_rows() == 0:
            return []
        indexed = {tuple(index.columns) for index in self.table.list_indices()}
        wanted = (("post_id", lancedb.index.BTree()), ("text", lancedb.index.FTS()))
        missing = [(column, config) for column, config in wanted if (column,) not in indexed]
        if ("vector",) not in indexed:
            # An ANN index only pays once there are enough vectors to train it; below that, exact search.
            vectors = self.table.count_rows("vector IS NOT NULL")
            if vectors >= self.vector_index_min_rows:
                partitions = max(1, min(256, vectors // 4096))
                missing.append(("vector", lancedb.index.IvfFlat(distance_type="cosine", num_partitions=partitions)))
        return missing

    def _ensure_indexes(self) -> None:
        for column, config in self._missing_indexes():
            self.table.create_index(column, config=config)

    def _ensure_search_indexes(self) -> None:
        """Before the first search of this store: the indexes, built under the write lock (an index build
        is a write; the lock keeps it apart from optimize() and from the clean-up of killed writes). Only
        a search that finds an index missing takes the lock."""
        if self._fts_ready:
            return
        if self._missing_indexes():
            with self._writing():
                self.table.checkout_latest()
                retrying(
                    lambda: _commit(self._ensure_indexes),
                    (RetryableCommitConflict,),
                    self.write_attempts,
                    sleep=self._sleep,
                )
        self._fts_ready = True

    def optimize(self, keep_versions_for: timedelta = timedelta(hours=1)) -> None:
        """Fold new rows into the indexes and prune table versions older than `keep_versions_for`, with the
        files no version references: what a killed writer left (data files written but never committed,
        their transaction files, temporary files). Lance keeps such "unverified" files 7 days, since they
        may belong to a write in progress; on a local table the write lock rules that out, so they go once
        they are older than every kept version (temporary files, once older than `temp_file_grace`)."""
        with self._writing():
            self.table.checkout_latest()
            self._remove_orphan_temp_files()
            locked = self._lock_path is not None  # object storage: no lock, so Lance's 7-day rule stands
            retrying(
                lambda: _commit(
                    lambda: (
                        self._ensure_indexes(),
                        self.table.optimize(cleanup_older_than=keep_versions_for, delete_unverified=locked),
                    )
                ),
                (RetryableCommitConflict,),
                self.write_attempts,
                sleep=self._sleep,
            )

    # --- writes -------------------------------------------------------------------------------------

    def _as_arrow(self, records: pd.DataFrame) -> pa.Table:
        schema = store_schema(self.vector_dim)
        unknown = set(records.columns) - set(schema.names)
        if unknown:
            raise ValueError(f"not store fields: {sorted(unknown)}")
        missing = {name: None for name in schema.names if name not in records.columns}
        frame = records.assign(**missing)[schema.names] if missing else records[schema.names]
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)

    def upsert(self, records: pd.DataFrame) -> int:
        if records["post_id"].isna().any() or records["post_id"].duplicated().any():
            raise ValueError("upsert needs unique, non-null post_id values")
        written = 0
        with self._writing():
            self.table.checkout_latest()  # see what the previous writer committed
            for start in range(0, len(records), self.write_batch_rows):
                chunk = self._as_arrow(records.iloc[start : start + self.write_batch_rows])
                try:  # I/O errors (a full disk, a flaky object store) and commit conflicts are retried;
                    retrying(  # a merge is idempotent
                        lambda chunk=chunk: _commit(
                            lambda: (
                                self.table.merge_insert("post_id")
                                .when_matched_update_all()
                                .when_not_matched_insert_all()
                                .execute(chunk, on_bad_vectors="null")
                            )
                        ),
                        (OSError, IOError, RetryableCommitConflict),
                        self.write_attempts,
                        sleep=self._sleep,
                    )
                except Exception as exc:
                    raise StoreWriteError(
                        f"LanceDB {self.uri}/{self.table_name}: upsert failed after {written} of {len(records)} "
                        f"rows: {exc}"
                    ) from exc
                written += chunk.num_rows
        return written  # indexes: optimize() (post_collection calls it after each batch) or the first search

    def update_fields(self, updates: pd.DataFrame) -> int:
        current = self.fetch({"post_id": updates["post_id"].tolist()}, limit=len(updates) + 1)
        return self.upsert(overlay_updates(current, updates))

    def delete(self, post_ids: Sequence[str]) -> int:
        if not post_ids:
            return 0
        predicate = filter_sql({"post_id": list(post_ids)})
        with self._writing():
            self.table.checkout_latest()
            before = self.table.count_rows(predicate)
            self.table.delete(predicate)
        return before

    def duplicate_records(self, where: StoreFilter | None = None) -> int:
        """Records beyond one per post_id (0 in a healthy store): what `mlds status` reports and a rebuild
        removes."""
        predicate = filter_sql(where)
        query = self.table.search().select(["post_id"])
        if predicate:
            query = query.where(predicate)
        ids = query.limit(self.table.count_rows(predicate) if predicate else self.table.count_rows()).to_arrow()
        column = ids["post_id"]
        return len(column) - len(column.unique())

    # --- reads --------------------------------------------------------------------------------------

    def count(self, where: StoreFilter | None = None) -> int:
        predicate = filter_sql(where)
        return self.table.count_rows(predicate) if predicate else self.table.count_rows()

    def coverage(self, field: str, where: StoreFilter | None = None) -> float:
        if field not in _FIELDS | {"vector"}:
            raise ValueError(f"{field!r} is not a store field")
        total = self.count(where)
        if not total:
            return 0.0
        predicate = " AND ".join(p for p in (filter_sql(where), f"{field} IS NOT NULL") if p)
        return self.table.count_rows(predicate) / total

    def fetch(self, where: StoreFilter | None = None, limit: int = 100, offset: int = 0) -> pd.DataFrame:
        query = self.table.search()
        predicate = filter_sql(where)
        if predicate:
            query = query.where(predicate)
        return query.offset(offset).limit(limit).to_pandas()

    def read_version(self) -> tuple[str, int]:
        """The table's version: a handle that reads every commit (the API's) sees the newest (0.3 ms). A
        local table is also named by its folder's inode and change time: a store deleted and rebuilt counts
        its versions from 1 again (and may get the same inode back)."""
        version, folder = int(self.table.version), self._table_dir()
        try:
            stat = folder.stat() if folder is not None else None
        except FileNotFoundError:
            stat = None
        made = f"{stat.st_ino}@{stat.st_ctime_ns}" if stat is not None else ""
        return f"{self.uri}::{self.table_name}::{made}", version

    @property
    def searchable(self) -> bool:
        """A search of this handle found the indexes in place (the API's warm-up does one at start)."""
        return self._fts_ready

    def _nothing_to_search(self) -> bool:
        """An empty table (no full-text index yet); counted only until this handle has seen its indexes, so a
        long-lived reader (the API) does not pay a count per search."""
        return not self._fts_ready and self.table.count_rows() == 0

    def keyword_search(self, query: str, where: StoreFilter | None = None, limit: int = 10) -> pd.DataFrame:
        if self._nothing_to_search():
            return self.fetch(limit=0)
        return self._keyword_hits(query, where, limit).to_pandas()

    def _keyword_hits(self, query: str, where: StoreFilter | None, limit: int, with_row_id: bool = False) -> pa.Table:
        self._ensure_search_indexes()  # full-text search needs its index; later rows are searched unindexed
        search = self.table.search(query, query_type="fts").with_row_id(with_row_id)
        predicate = filter_sql(where)
        if predicate:
            search = search.where(predicate, prefilter=True)
        return _drop_vector(search.limit(limit).to_arrow())

    def hybrid_search(
        self, query: str, vector: Sequence[float], where: StoreFilter | None = None, limit: int = 10
    ) -> pd.DataFrame:
        """Full-text and vector hits fused by reciprocal rank (`fuse_by_rank`): LanceDB's own hybrid query,
        its two legs run here so that the API, which searches the vector leg several to a query, fuses them
        the same way. Posts not embedded yet still match on their words."""
        if len(vector) != self.vector_dim:
            raise ValueError(f"vector has {len(vector)} dimensions; the store has {self.vector_dim}")
        if self._nothing_to_search():
            return self.fetch(limit=0).assign(_score=pd.Series(dtype="float32"))
        keyword_hits = self._keyword_hits(query, where, limit, with_row_id=True)
        vector_hits = self.vector_search_many([vector], where, limit, with_row_id=True)[0]
        return fuse_by_rank(query, vector_hits, keyword_hits, limit).to_pandas()

    def vector_search(self, vector: Sequence[float], where: StoreFilter | None = None, limit: int = 10) -> pd.DataFrame:
        return self.vector_search_many([vector], where, limit)[0].to_pandas()

    def vector_search_many(
        self,
        vectors: Sequence[Sequence[float]],
        where: StoreFilter | None = None,
        limit: int = 10,
        columns: Sequence[str] | None = None,
        with_row_id: bool = False,
    ) -> list[pa.Table]:
        """Several vector searches as one LanceDB query (its multi-vector search): each vector's hits, the
        ones a search of it alone finds, as Arrow. For the semantic searches a server gets at one moment: a
        LanceDB query costs ~3 ms of CPU before it reads a row, and twenty vectors in one query cost 11 ms
        where twenty queries cost 140 (1,580 posts, 2 cores). `columns`: read only these and `_distance`;
        `with_row_id`: and `_rowid` (what a hybrid search fuses the two legs on)."""
        import pyarrow.compute as pc

        for vector in vectors:
            if len(vector) != self.vector_dim:
                raise ValueError(f"vector has {len(vector)} dimensions; the store has {self.vector_dim}")
        if not vectors:
            return []
        # Lance leaves posts without a vector out of a vector search by itself; a `vector IS NOT NULL`
        # prefilter read the whole vector column per query (144 against 40 ms CPU on 23k posts)
        search = self.table.search([list(vector) for vector in vectors], vector_column_name="vector")
        search = search.with_row_id(with_row_id)
        if columns is not None:  # `_distance` named: a projection without it logs a warning per query
            names = set(self.table.schema.names)
            search = search.select([c for c in columns if c in names and c != "_distance"] + ["_distance"])
        predicate = filter_sql(where)
        if predicate:
            search = search.where(predicate, prefilter=True)
        hits = _drop_vector(search.limit(limit).to_arrow())
        if "query_index" not in hits.column_names:  # one vector (LanceDB answers a single search), or no hits
            return [hits] if hits.num_rows else [hits] * len(vectors)
        index = hits.column("query_index")
        hits = hits.drop_columns(["query_index"])
        return [hits.filter(pc.equal(index, k)) for k in range(len(vectors))]

    async def keyword_search_async(
        self,
        query: str,
        where: StoreFilter | None = None,
        limit: int = 10,
        columns: Sequence[str] | None = None,
        with_row_id: bool = False,
    ) -> pa.Table:
        """A keyword search through LanceDB's async API, for a server's event loop: one await per search,
        where the sync API makes four round trips through LanceDB's background loop thread (it fetches the
        schema three times per query). The hits as Arrow, for a caller that writes JSON from them without
        pandas. A server's vector searches go several to a query through `vector_search_many`. Only once
        `searchable` (a sync search built the indexes): nothing here blocks the loop. `columns`: read only
        these and `_score`, not the 384-float vector and the rest (28-34% of a search at demo size);
        `with_row_id`: and `_rowid`, for `fuse_by_rank`."""
        if not self.searchable:
            raise RuntimeError("keyword_search_async before the first search built the indexes (see `searchable`)")
        if self._async_table is None:  # both set at once: a search arriving between them read no column
            db = await lancedb.connect_async(self.uri, read_consistency_interval=self._read_consistency)
            table = await db.open_table(self.table_name)
            names = set((await table.schema()).names)
            self._async_table, self._async_columns = table, names
        search = self._async_table.query().nearest_to_text(query)
        if columns is not None:
            search = search.select([c for c in columns if c in self._async_columns] + ["_score"])
        if with_row_id:
            search = search.with_row_id()
        predicate = filter_sql(where)
        if predicate:
            search = search.where(predicate)  # a prefilter, as in the sync searches
        return _drop_vector(await search.limit(limit).to_arrow())


def fuse_by_rank(query: str, vector_hits: pa.Table, keyword_hits: pa.Table, limit: int) -> pa.Table:
    """A hybrid search's two legs (each with `_rowid`, best first) as one ranking: LanceDB's reciprocal rank
    fusion (`RRFReranker`, k=60, its documented interface for hybrid rerankers), as LanceDB's own hybrid
    query applies it; the fused relevance as `_score`, the legs' own scores and the row ids dropped. A post
    both legs found appears once, with the vector leg's columns."""
    from lancedb.rerankers import RRFReranker

    fused = RRFReranker().rerank_hybrid(query, vector_hits, keyword_hits).slice(0, limit)
    fused = fused.drop_columns(["_rowid"])
    return fused.rename_columns(["_score" if c == "_relevance_score" else c for c in fused.column_names])


def _drop_vector(hits: pa.Table) -> pa.Table:
    """Hits without the vector column: 384 floats per hit that no reader of results shows (the API, the
    CLI). Dropped from the Arrow result, not by a projection: selecting columns in a sync Lance search logs
    a warning per query about the score columns it leaves out."""
    return hits.drop_columns(["vector"]) if "vector" in hits.column_names else hits
