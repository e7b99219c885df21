"""Landing: an inbox file becomes an immutable, content-addressed copy that a partition points at.

Done by the inbox sensor's landing run (`landing_job.py`) or by `mlds ingest`, never inside a sensor tick;
the landing area may be a local folder or a prefix on object storage.

The partition key carries a prefix of the file's SHA-256, so the same content arriving twice (under any
name, after any restart) maps to the same partition and no new run. Inbox file names never build a
path on their own: they are reduced to a safe stem, so `../` or shell characters cannot escape.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from upath import UPath

from mlds_assets.core.readers import EXTENSIONS
from mlds_assets.core.upaths import fresh_listing, is_local, write_bytes_atomically

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
HASH_CHARS = 12
SIDECAR = ".landed.json"  # beside each landed file; a distinct suffix, so a .json export never collides


class LandingError(ValueError):
    """The file cannot be landed (too large, unknown type, not a regular file)."""


@dataclass(frozen=True)
class LandedFile:
    platform: str
    partition_key: str
    path: Path
    sha256: str
    source_name: str
    size: int


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def partition_key_for(source_name: str, sha256: str) -> str:
    stem = _UNSAFE.sub("_", Path(source_name).stem).strip("._-")[:60] or "file"
    return f"{stem}-{sha256[:HASH_CHARS]}"


def landed(landing_dir: Path, platform: str, partition_key: str) -> LandedFile:
    """The landed file behind a partition; a clear error if the partition was never landed here."""
    sidecar = landing_dir / platform / f"{partition_key}{SIDECAR}"
    if not sidecar.is_file():
        raise FileNotFoundError(f"partition {partition_key!r} of {platform} has no landed file ({sidecar} missing)")
    info = json.loads(sidecar.read_text())
    return LandedFile(
        platform,
        partition_key,
        landing_dir / platform / info["landed_name"],
        info["sha256"],
        info["source_name"],
        info["size"],
    )


def find_by_hash(landing_dir: Path, platform: str, sha256: str) -> str | None:
    for sidecar in (landing_dir / platform).glob(f"*-{sha256[:HASH_CHARS]}{SIDECAR}"):
        if json.loads(sidecar.read_text())["sha256"] == sha256:
            return sidecar.name.removesuffix(SIDECAR)
    return None


class SourceChangedError(OSError):
    """The file changed while it was being landed (still being written): not landed; retry when it is
    complete. An OSError, so the inbox sensor retries it on a later tick instead of rejecting it."""


@contextmanager
def _failing_as(what: str, path: Path):
    """An OSError inside names the side that failed: 'cannot read it' (the source) or 'cannot write the
    landed copy' (the landing folder), with the file or folder as its filename."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, SourceChangedError):
            raise
        raise OSError(exc.errno, f"{what}: {exc.strerror or exc}", str(path)) from exc


def _copy_hashing(source: Path, target: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """Copy `source` to `target` in one read, hashing what is copied: the sha256 and size describe exactly
    the bytes that landed. Either side may be local or on object storage."""
    digest, size = hashlib.sha256(), 0
    with _failing_as("cannot read it", source):
        handle = source.open("rb")
    with handle:
        with _failing_as("cannot write the landed copy", target.parent):
            out = target.open("wb")
        with out:
            while True:
                with _failing_as("cannot read it", source):
                    block = handle.read(chunk)
                if not block:
                    break
                digest.update(block)
                size += len(block)
                with _failing_as("cannot write the landed copy", target.parent):
                    out.write(block)
            if is_local(target):
                with _failing_as("cannot write the landed copy", target.parent):
                    out.flush()
                    os.fsync(out.fileno())
    return digest.hexdigest(), size


def landing_refusal(name: str, size: int, max_bytes: int | None) -> str | None:
    """Why a file of this name and size is never landed (an unknown type, over the size limit), or None:
    the inbox sensor asks before requesting a landing run, and landing itself enforces it."""
    suffix = Path(name).suffix.lower()
    if suffix not in EXTENSIONS:
        return f"{name}: unknown file type {suffix!r}; expected one of {sorted(EXTENSIONS)}"
    if max_bytes is not None and size > max_bytes:
        return f"{name}: {size} bytes is over the configured limit of {max_bytes} (ingestion.max_file_mb)"
    return None


def land_file(
    source: Path, landing_dir: Path, platform: str, max_bytes: int | None = None, via: str = "cli"
) -> tuple[LandedFile, bool]:
    """Copy `source` into the landing area; returns (landed file, whether it is new). Source and landing area
    may each be local or on object storage (UPath).

    The file is read once, copied while it is hashed; if its size or mtime changed meanwhile (a file still
    being written), nothing lands and SourceChangedError asks for a retry later. Read and write failures
    (unreadable, disk full) are OSErrors naming the file or folder, and leave no partial copy behind. The
    sidecar is written last: a landed file exists only once complete. `via` says who landed it: the inbox
    sensor's landing run makes its batches itself; `mlds ingest` makes its own."""
    source = UPath(source) if isinstance(source, str) else source
    if not source.is_file():
        raise LandingError(f"{source}: not a regular file")
    suffix = source.suffix.lower()
    before = source.stat()
    refused = landing_refusal(source.name, before.st_size, max_bytes)
    if refused:
        raise LandingError(refused)
    folder = landing_dir / platform
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".incoming-{uuid.uuid4().hex}{suffix}.tmp"  # one per lander: two at once never share it
    try:
        sha, size = _copy_hashing(source, tmp)
        after = source.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != after.st_size:
            raise SourceChangedError(
                errno.EAGAIN,
                f"changed while it was being landed ({before.st_size} bytes, then {after.st_size}): still being "
                "written? not landed; retry when it is complete",
                str(source),
            )
        existing = find_by_hash(landing_dir, platform, sha)
        if existing:
            return landed(landing_dir, platform, existing), False
        key = partition_key_for(source.name, sha)
        target = folder / f"{key}{suffix}"
        if is_local(tmp):
            os.replace(tmp, target)
        else:  # object storage: a server-side copy; the sidecar below is what makes it a landed file
            tmp.rename(target)
    finally:
        if tmp.exists():
            tmp.unlink()
    info = {
        "landed_name": target.name, "sha256": sha, "source_name": source.name, "size": size,
        "source_path": str(source), "landed_at": datetime.now(timezone.utc).isoformat(), "via": via,
    }  # fmt: skip
    write_bytes_atomically(folder / f"{key}{SIDECAR}", json.dumps(info, indent=1).encode())
    return LandedFile(platform, key, target, sha, source.name, size), True


def sidecar_info(landing_dir: Path, platform: str, partition_key: str) -> dict | None:
    """What the landing wrote for a batch (None when nothing landed under that key)."""
    sidecar = landing_dir / platform / f"{partition_key}{SIDECAR}"
    return json.loads(sidecar.read_text()) if sidecar.is_file() else None


def landed_keys(landing_dir: Path, platform: str) -> list[str]:
    """Every batch landed for a platform, oldest name first: one listing of the landing folder."""
    folder = fresh_listing(landing_dir / platform)
    if not folder.exists():
        return []
    return sorted(p.name.removesuffix(SIDECAR) for p in folder.glob(f"*{SIDECAR}") if not p.name.startswith("."))
