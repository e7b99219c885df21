"""Running a job for `mlds`: the CLI is a client of the instance, not a second orchestrator.

Where `make dev` (or a deployment) is up, a run goes the way a UI launch goes: submitted to the webserver's
GraphQL API, queued by the instance's run coordinator (its per-batch limit and the pools hold), launched by the
daemon's run launcher in a process of its own; `mlds` waits for it and reads the outcome from the event log.
On a laptop with no daemon, the same job runs in `mlds`'s own process through Dagster's public `execute_job`
on the same instance: the same run record, event log, checks and pools, only no queue. Either way the
outcome comes from the instance's event log, so the two paths report alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit

import httpx
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    build_reconstructable_job,
    execute_job,
)

from mlds_assets.batch_status import run_error, runs_on_batch, step_errors
from mlds_assets.launch_settings import RUN_TAG as LAUNCH_TAG
from mlds_assets.launch_settings import launch_tag
from mlds_assets.run_reaper import run_tags
from mlds_assets.service.errors import RunLaunchError
from mlds_assets.settings import Settings

QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the instance keeps the full log
PARTITION_TAG = "dagster/partition"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
DAEMON_FRESH_SECONDS = 120  # a daemon heartbeat younger than this: the daemon is running


Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_job(
    settings: Settings,
    instance: DagsterInstance,
    job_name: str,
    partition: str | None,
    tags: dict | None = None,
    ops_config: dict | None = None,
    log: Log = _stderr,
    assets: list | None = None,
) -> dict:
    """One partition (None: an unpartitioned job) through one job on the persistent instance, launched the
    way `launch_path` says, waited for; status, what was materialised, checks and errors as a dict."""
    run_config = {**QUIET_RUN, "ops": ops_config} if ops_config else QUIET_RUN
    tags = {**(tags or {}), **({PARTITION_TAG: partition} if partition else {})}
    path, why = ("in_process", "follow-up") if assets else launch_path(settings, instance)
    if path == "webserver":
        tags[LAUNCH_TAG] = launch_tag(settings)  # the run worker refuses to run other settings than these
        run_id = _submit(settings.runs.webserver_url, job_name, run_config, tags)
        log(f"{job_name} {partition or ''}: run {run_id} queued at {settings.runs.webserver_url} ({why})")
        _wait(instance, run_id, settings.runs.wait_timeout_seconds, settings.runs.progress_seconds, log)
    else:
        if partition:
            wait_for_batch(instance, partition, settings.runs.wait_timeout_seconds, log)
        run_id = _execute_here(settings, instance, job_name, run_config, {**tags, **run_tags()}, assets)
    return {**run_outcome(instance, run_id), "launched": path}


def launch_path(settings: Settings, instance: DagsterInstance) -> tuple[str, str]:
    """("webserver" | "in_process", why). `auto` takes the webserver when it answers for this instance and
    a daemon heartbeats on it (queued runs need the daemon to start)."""
    mode, url = settings.runs.launch, settings.runs.webserver_url
    if mode == "in_process":
        return "in_process", "runs.launch: in_process"
    serving = _webserver_serves(url, settings)
    if mode == "webserver":
        if serving is not True:
            raise RunLaunchError(f"runs.launch is webserver, but {url} {serving or 'serves another instance'}")
        return "webserver", "runs.launch: webserver"
    if serving is not True:
        return "in_process", f"no webserver for this instance at {url}"
    if not daemon_running(instance):
        return "in_process", f"{url} answers, but no daemon heartbeats on the instance to launch queued runs"
    return "webserver", "make dev is up"


def daemon_running(instance: DagsterInstance) -> bool:
    now = time.time()
    return any(now - beat.timestamp < DAEMON_FRESH_SECONDS for beat in instance.get_daemon_heartbeats().values())


def _webserver_serves(url: str, settings: Settings) -> bool | str:
    """True when a Dagster webserver answers at `url` over this MLDS home's instance; otherwise why not."""
    try:
        response = httpx.post(f"{url}/graphql", json={"query": "{ instance { info } }"}, timeout=3)
        response.raise_for_status()
        info = (response.json().get("data") or {}).get("instance", {}).get("info") or ""
    except (httpx.HTTPError, ValueError) as exc:
        return f"does not answer ({type(exc).__name__})"
    return True if not info or str(settings.dagster_home) in info else "serves another Dagster instance"


def _submit(url: str, job_name: str, run_config: dict, tags: dict) -> str:
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    parts = urlsplit(url)
    client = DagsterGraphQLClient(
        parts.hostname or "127.0.0.1", port_number=parts.port, use_https=parts.scheme == "https"
    )
    try:
        return client.submit_job_execution(job_name, run_config=run_config, tags=tags)
    except DagsterGraphQLClientError as exc:
        raise RunLaunchError(f"{url} did not launch {job_name}: {exc}") from exc


def _wait(instance: DagsterInstance, run_id: str, timeout: float, every_report: float, log: Log) -> None:
    """Until the run finishes (bounded), saying now and then where it is."""
    start = last_report = time.monotonic()
    pause = 0.2
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in FINISHED:
            return
        now = time.monotonic()
        if now - start > timeout:
            raise RunLaunchError(f"run {run_id} still {run.status.value if run else 'unknown'} after {timeout:.0f} s")
        if now - last_report >= every_report:
            done = len(instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS))
            log(f"run {run_id}: {run.status.value if run else '?'}, {now - start:.0f} s, {done} steps done")
            last_report = now
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)


def wait_for_batch(instance: DagsterInstance, partition: str, timeout: float, log: Log = _stderr) -> None:
    """Let a run already working on this batch finish first: in-process runs skip the queue, whose
    per-batch limit keeps the daemon's runs apart. (Two `mlds` starting at the same instant may still
    overlap; every step upserts and the store serialises its writers, so that costs time, not data.)"""
    runs = runs_on_batch(instance, partition)
    if runs:
        log(f"batch {partition}: waiting for run {runs[0].run_id} ({runs[0].job_name}) to finish")
        for run in runs:
            _wait(instance, run.run_id, timeout, 60, log)


def _execute_here(
    settings: Settings, instance: DagsterInstance, job_name: str, run_config: dict, tags: dict, assets: list | None
) -> str:
    recipe = {"settings_json": settings.model_dump_json(), "name": job_name}
    job = build_reconstructable_job(__name__, job_for.__name__, reconstructable_kwargs=recipe)
    # execute_job keeps no step outputs in memory (they are in the lake), unlike execute_in_process
    result = execute_job(job, instance, run_config=run_config, tags=tags, raise_on_error=False, asset_selection=assets)
    return result.run_id


@lru_cache(maxsize=4)
def _definitions(settings_json: str):
    from mlds_assets.definitions import build_definitions

    return build_definitions(Settings.model_validate_json(settings_json))


def job_for(settings_json: str, name: str):
    """The reconstructor `execute_job` calls: the named job of the definitions built from these settings."""
    return _definitions(settings_json).resolve_job_def(name)


def run_outcome(instance: DagsterInstance, run_id: str) -> dict:
    """A finished run, from the instance's event log: status, materialised assets, checks, errors."""
    run = instance.get_run_by_id(run_id)
    events = instance.all_logs(
        run_id, of_type={DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION}
    )
    materialized = sorted(
        {e.dagster_event.asset_key.to_user_string() for e in events if e.dagster_event.is_step_materialization}
    )
    outcome = {"run_id": run_id, "materialized": materialized}
    if run is None or run.status != DagsterRunStatus.SUCCESS:
        return {**outcome, "status": "failed", "errors": step_errors(instance, run_id) or [run_error(instance, run_id)]}
    checks = [
        e.dagster_event.event_specific_data
        for e in events
        if e.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    failed = [c for c in checks if not c.passed]
    errors = [c.check_name for c in failed if c.severity.value == "ERROR"]
    return {
        **outcome,
        "status": "checks failed" if errors else "ok",
        "checks_passed": len(checks) - len(failed),
        "checks_failed": errors,
        "checks_warned": [c.check_name for c in failed if c.severity.value != "ERROR"],  # e.g. a sentiment backlog
    }
