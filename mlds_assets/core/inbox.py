"""Which inbox files are ready to ingest: complete (the same size and mtime at two looks, and older than the
settle time), in a known platform's folder, and really inside the inbox (no symlinks out of it).

The inbox may be a local folder or a prefix on object storage (UPath). Pure over a listing and the previous
state, so the sensor's cursor logic is testable without Dagster and without waiting: a test sets mtimes
instead of sleeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from mlds_assets.core.upaths import fresh_listing, is_under


@dataclass
class InboxScan:
    ready: list[tuple[str, Path]] = field(default_factory=list)  # (platform, file)
    state: dict[str, list] = field(default_factory=dict)  # path -> [size, mtime_ns, partition key or ""]
    skipped: list[str] = field(default_factory=list)  # reasons, for the log


def scan_inbox(
    inbox_dir: Path,
    platforms_by_folder: dict[str, str],
    previous: dict[str, list],
    settle_seconds: float,
    ignore_suffixes: tuple[str, ...],
    now: float | None = None,
    follow_symlinks: bool = False,
) -> InboxScan:
    """A file is ready when the previous look saw the same size and mtime AND it is older than
    `settle_seconds`: one look, or an old mtime alone (a copy that keeps the source's mtime, a writer that
    pauses), never proves a file complete. Symlinks, and anything resolving outside the inbox, are refused
    unless `follow_symlinks`: an inbox is a drop zone, not a way to read another team's (or the system's) files."""
    now = time.time() if now is None else now
    scan = InboxScan()
    if not fresh_listing(inbox_dir).is_dir():
        return scan
    for folder in sorted(p for p in inbox_dir.iterdir() if not p.name.startswith(".")):
        if not follow_symlinks and (folder.is_symlink() or not is_under(folder, inbox_dir)):
            scan.skipped.append(f"{folder.name}: a symlink; refused (ingestion.follow_symlinks is false)")
            continue
        if not folder.is_dir():
            scan.skipped.append(f"{folder.name}: files go in a platform folder, inbox/<platform>/")
            continue
        platform = platforms_by_folder.get(folder.name)
        if platform is None:
            scan.skipped.append(f"{folder.name}/: no platform YAML has inbox {folder.name!r}; skipped")
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.name.lower().endswith(ignore_suffixes):
                continue
            if not follow_symlinks and (path.is_symlink() or not is_under(path, inbox_dir)):
                scan.skipped.append(f"{folder.name}/{path.name}: a symlink; refused (ingestion.follow_symlinks)")
                continue
            try:
                if not path.is_file():
                    continue
                stat = path.stat()
            except OSError as exc:
                scan.skipped.append(f"{folder.name}/{path.name}: cannot be read ({exc.strerror}); retried later")
                continue
            key = str(path)
            before = previous.get(key)
            observed = [stat.st_size, stat.st_mtime_ns]
            if before and before[:2] == observed and before[2]:
                scan.state[key] = before  # already landed (or rejected), unchanged
                continue
            settled = now - stat.st_mtime >= settle_seconds
            unchanged = before is not None and before[:2] == observed
            scan.state[key] = [*observed, ""]
            if settled and unchanged:
                scan.ready.append((platform, path))
    return scan
