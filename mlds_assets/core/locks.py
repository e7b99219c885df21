"""One run per batch at a time on this machine: an advisory lock file per partition under
`<home>/locks/`, taken by every `mlds` command before it runs a job for a batch. Runs launched by the
Dagster daemon are kept apart by the run queue's per-partition limit in dagster.yaml instead."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class BatchBusyError(RuntimeError):
    """Another process is running a job for the same batch."""


@contextmanager
def batch_lock(folder: Path, partition: str) -> Iterator[Path]:
    """Hold the batch's lock for the block; fail at once, naming the batch, when another process has it.
    The kernel releases it when its holder dies, so a killed run never leaves a stale lock."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", partition) + ".lock")
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchBusyError(
                f"another mlds run is working on batch {partition} (lock {path}); run again when it has finished"
            ) from None
        yield path
    finally:
        os.close(handle)  # closing releases the lock
