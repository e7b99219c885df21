"""DuckDB over the lake wherever it lives: a local folder, or an object store (s3://, gs://, abfs://) read
through fsspec, the same filesystems the IO manager writes with. DuckDB's own httpfs extension would be a
download at run time, which MLDS never does."""

from __future__ import annotations

import duckdb
import fsspec
from upath import UPath

LOCAL = ("", "file", "local")


def lake_connection(lake: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    protocol = UPath(lake).protocol
    if protocol not in LOCAL:
        con.register_filesystem(fsspec.filesystem(protocol))
    return con


def parquet_files(lake: str, *parts: str) -> list[str]:
    """The Parquet files in `<lake>/<parts...>/`, sorted; [] where the folder does not exist yet."""
    folder = UPath(lake).joinpath(*parts)
    if not folder.exists() or not folder.is_dir():
        return []
    return sorted(str(path) for path in folder.glob("*.parquet"))


def parquet_file(lake: str, *parts: str) -> str | None:
    """`<lake>/<parts...>.parquet` where it exists."""
    path = UPath(lake).joinpath(*parts[:-1], f"{parts[-1]}.parquet")
    return str(path) if path.exists() else None
