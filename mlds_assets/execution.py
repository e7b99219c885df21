"""Running a job in this process without keeping its outputs in memory.

`JobDefinition.execute_in_process` keeps every step's output for `result.output_for_node`, so a fast-path
run over a million posts holds the raw, cleaned and entity frames at once (5.4 GB at 1M posts). MLDS
never reads outputs from the result (they are in the lake), so `run_in_process` runs the same code path
with output capture off: each step's frames are freed when the next step starts (3.5 GB at 1M posts).

It switches a flag of Dagster's own in-process execution (dagster 1.13, pinned in setup.py);
`test_execution.py` fails if a Dagster upgrade changes that, rather than memory quietly growing again.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import dagster._core.execution.execute_in_process as in_process

_LOCK = threading.Lock()


@contextmanager
def _without_output_capture():
    original = in_process.core_execute_in_process

    def core(*args, **kwargs):
        kwargs["output_capturing_enabled"] = False
        return original(*args, **kwargs)

    with _LOCK:
        in_process.core_execute_in_process = core
        try:
            yield
        finally:
            in_process.core_execute_in_process = original


def run_in_process(job, **kwargs):
    """`job.execute_in_process(**kwargs)` whose result has events and success, but no outputs."""
    with _without_output_capture():
        return job.execute_in_process(**kwargs)
