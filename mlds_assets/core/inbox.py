"""Which inbox files are ready to ingest: complete (unchanged since last look, or settled), known platform.

Pure over a directory listing and the previous state, so the sensor's cursor logic is testable without
Dagster and without waiting: a test sets mtimes instead of sleeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


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
) -> InboxScan:
    now = time.time() if now is None else now
    scan = InboxScan()
    if not inbox_dir.is_dir():
        return scan
    for folder in sorted(p for p in inbox_dir.iterdir() if not p.name.startswith(".")):
        if not folder.is_dir():
            scan.skipped.append(f"{folder.name}: files go in a platform folder, inbox/<platform>/")
            continue
        platform = platforms_by_folder.get(folder.name)
        if platform is None:
            scan.skipped.append(f"{folder.name}/: no platform YAML has inbox {folder.name!r}; skipped")
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not path.is_file() or path.name.lower().endswith(ignore_suffixes):
                continue
            stat = path.stat()
            key = str(path)
            before = previous.get(key)
            observed = [stat.st_size, stat.st_mtime_ns]
            if before and before[:2] == observed and before[2]:
                scan.state[key] = before  # already landed, unchanged
                continue
            settled = now - stat.st_mtime >= settle_seconds
            unchanged = before is not None and before[:2] == observed
            scan.state[key] = [*observed, ""]
            if settled or unchanged:
                scan.ready.append((platform, path))
    return scan
