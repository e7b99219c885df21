"""Runs whose process died (kill -9, the OOM killer, a closed terminal) are failed, and the pool slots their
steps held are freed: otherwise a dead run keeps its batch's queue slot, and the store or model pool,
forever. The daemon's `dead_run_reaper` sensor and every `mlds` command call `fail_dead_runs`."""

from __future__ import annotations

import os
import socket

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, DefaultRunLauncher, RunsFilter

from mlds_assets.core.processes import process_alive

HOST_TAG = "mlds/host"  # the host whose process runs the job, where `mlds` ran it in its own process
PID_TAG = "mlds/pid"  # that process


def run_tags() -> dict[str, str]:
    """The tags `mlds` puts on a run it executes in its own process, so that the run can be judged later."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def run_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The pid of the process executing a run, from Dagster's own engine events (the run worker the code
    server started, or the process that ran it in-process)."""
    pid = None
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        if data is not None and "pid" in (data.metadata or {}):
            pid = int(data.metadata["pid"].value)
    return pid


def dead_runs(instance: DagsterInstance, include_daemon_runs: bool) -> list[tuple[str, int]]:
    """(run id, pid) of STARTED runs whose process is gone, among the runs this host can judge: ones `mlds`
    ran here (tagged with the host), and, with `include_daemon_runs` where the instance launches runs as
    local processes (the default launcher: `make dev`), the daemon's. Kubernetes or Celery runs are left to
    their launcher's own monitoring."""
    host = socket.gethostname()
    local_launcher = include_daemon_runs and isinstance(instance.run_launcher, DefaultRunLauncher)
    found = []
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        run_host = run.tags.get(HOST_TAG)
        if run_host != host and not (run_host is None and local_launcher):
            continue
        tagged = run.tags.get(PID_TAG, "")
        pid = int(tagged) if tagged.isdigit() else run_pid(instance, run.run_id)
        if pid is not None and pid != os.getpid() and not process_alive(pid):
            found.append((run.run_id, pid))
    return found


def fail_dead_runs(instance: DagsterInstance, include_daemon_runs: bool) -> list[tuple[str, int]]:
    failed = []
    for run_id, pid in dead_runs(instance, include_daemon_runs):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status != DagsterRunStatus.STARTED:
            continue
        instance.report_run_failed(run, f"the process that ran it (pid {pid}) is gone: killed or crashed")
        if instance.event_log_storage.supports_global_concurrency_limits:  # the pool slots its steps held
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        failed.append((run_id, pid))
    return failed
