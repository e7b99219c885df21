"""Files on a local disk or on object storage through one UPath, written so a reader never sees half a file.

Locally: written beside the target and renamed (`os.replace` is atomic on one filesystem). On object storage
an object appears only once its upload completes, so it is written in place. Readers that need a real file
(Arrow's and pandas' readers, xlsx) get a local copy of a remote object, removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from upath import UPath


def is_local(path: Path | UPath) -> bool:
    return isinstance(path, Path)  # a local UPath (PosixUPath, WindowsUPath) is a pathlib.Path too


def is_under(path: Path | UPath, folder: Path | UPath) -> bool:
    """Whether `path` really lies inside `folder`: locally after resolving symlinks and `..`, on object
    storage by its key prefix. What lets an inbox be a drop zone rather than a way to read any file."""
    if is_local(path) != is_local(folder):
        return False
    if is_local(path):
        try:
            return Path(path).resolve().is_relative_to(Path(folder).resolve())
        except OSError:
            return False
    return str(path).startswith(str(folder).rstrip("/") + "/")


def fresh_listing(folder: Path | UPath) -> Path | UPath:
    """`folder` with its filesystem's cached listings dropped: an object store's client caches what it
    listed, and a sensor that lists the same prefix every tick must see the files that arrived since."""
    if not is_local(folder):
        folder.fs.invalidate_cache()
    return folder


def write_atomically(path: Path | UPath, write: Callable[[IO[bytes]], None]) -> None:
    """`write(handle)` into `path`, all or nothing: a crash leaves the previous content (or no file)."""
    if not is_local(path):
        with path.open("wb") as handle:
            write(handle)
        return
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomically(path: Path | UPath, data: bytes) -> None:
    write_atomically(path, lambda handle: handle.write(data))


@contextmanager
def local_copy(path: Path | UPath, chunk: int = 1 << 20) -> Iterator[Path]:
    """A local file with `path`'s bytes: `path` itself when it is local, else a temporary download."""
    if is_local(path):
        yield Path(path)
        return
    folder = Path(tempfile.mkdtemp(prefix="mlds-"))
    target = folder / path.name
    try:
        with path.open("rb") as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, chunk)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scratch_folder(target: Path | UPath) -> Path:
    """Where to build a folder before `publish_folder` puts it at `target`: beside it when local (so the final
    rename stays on one filesystem, hence atomic), else in a local temporary folder."""
    if is_local(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(target).parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    return Path(tempfile.mkdtemp(prefix="mlds-")) / target.name


def publish_folder(local: Path, target: Path | UPath) -> None:
    """Put a finished local folder (a saved model) at `target`, replacing what was there. Locally a rename
    (atomic); on object storage an upload, after which the caller writes the pointer that names it."""
    if is_local(target):
        target = Path(target)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, target)
        return
    if target.exists():
        target.fs.rm(target.path, recursive=True)
    target.fs.put(f"{local}/", target.path, recursive=True)
    shutil.rmtree(local, ignore_errors=True)


_DOWNLOADED: dict[str, Path] = {}


def local_folder(path: Path | UPath) -> Path:
    """A local folder with `path`'s files: `path` itself when local, else a download made once per process
    (model folders are immutable once published: a new fit or training gets a new name)."""
    if is_local(path):
        return Path(path)
    key = str(path)
    if key not in _DOWNLOADED or not _DOWNLOADED[key].exists():
        folder = Path(tempfile.mkdtemp(prefix="mlds-model-")) / path.name
        path.fs.get(f"{path.path}/", str(folder), recursive=True)
        _DOWNLOADED[key] = folder
    return _DOWNLOADED[key]
