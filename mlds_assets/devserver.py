"""`dagster dev` (webserver + daemon + code server) on loopback over its own MLDS_HOME and SQLite instance,
as `make dev` starts it: what the daemon tests and `make bench` drive (the inbox sensor, the automation
sensor, UI launches through GraphQL, many runs at once). Waiting is bounded polling, never a fixed sleep."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from dagster import AssetKey, DagsterInstance
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from mlds_assets.batch_status import IN_PROGRESS
from mlds_assets.sensors import AUTOMATION_SENSOR
from mlds_assets.service.instance import dagster_instance
from mlds_assets.settings import load_settings

FINISHED = [TickStatus.SUCCESS, TickStatus.SKIPPED, TickStatus.FAILURE]
REPO = Path(__file__).resolve().parent.parent  # workspace.yaml; the code location is this package
FAST = {  # the daemon's intervals shortened for tests; the settle rule itself is unchanged
    "MLDS__INGESTION__SENSOR_INTERVAL_SECONDS": "2",
    "MLDS__INGESTION__SETTLE_SECONDS": "2",
    "MLDS__CONCURRENCY__AUTOMATION_INTERVAL_SECONDS": "2",
    "MLDS__CONCURRENCY__DEAD_RUN_CHECK_SECONDS": "2",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    what: str, predicate: Callable[[], object], timeout: float, every: float = 0.5, log: Callable[[], str] = str
):
    """Poll `predicate` until it returns something truthy; fail naming `what` (and the end of `log()`)
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{log()}")
        time.sleep(every)


def wait_for_http(
    what: str, process: subprocess.Popen, url: str, timeout: float, log: Callable[[], str], every: float = 0.5
) -> None:
    """Until `url` answers 200; fails at once, with the end of `log()`, when the process exits first."""

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited ({process.returncode}):\n{log()}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(f"{what} to answer", answers, timeout, every, log)


@dataclass
class DevServer:
    home: Path
    port: int
    env: dict
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_config(str(self.home / "dagster_home"))

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def reload_definitions(self) -> None:
        """What the UI's "Reload definitions" does: every code location loaded again (after a config change),
        for the webserver and the daemon alike."""
        entries = self.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
        for entry in entries["workspaceOrError"]["locationEntries"]:
            reloaded = self.graphql(
                """mutation ($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
                    __typename ... on WorkspaceLocationEntry { locationOrLoadError { __typename
                    ... on PythonError { message } } } ... on PythonError { message } } }""",
                {"name": entry["name"]},
            )["reloadRepositoryLocation"]
            loaded = reloaded.get("locationOrLoadError") or reloaded
            assert loaded["__typename"] == "RepositoryLocation", f"{entry['name']} did not reload: {loaded}"

    def materialized(self, instance: DagsterInstance, platform: str, asset: str) -> set[str]:
        return set(instance.get_materialized_partitions(AssetKey([platform, asset])))

    def wait_settled(self, instance: DagsterInstance, timeout: float = 600, ticks: int = 2) -> int:
        """Until nothing runs and the automation sensor has finished `ticks` evaluations that began after the
        last run ended, launching nothing: what the conditions requested after a run is then done. Counting
        the sensor's ticks, not seconds of quiet, holds on a loaded machine, where one evaluation can take
        longer than any fixed quiet spell. The number of runs on the instance then."""
        runs = 0

        def quiet() -> bool:
            nonlocal runs
            records = instance.get_run_records()
            runs = len(records)
            if any(record.dagster_run.status in IN_PROGRESS for record in records):
                return False
            last_end = max((record.end_time or record.create_timestamp.timestamp() for record in records), default=0)
            evaluated = self.automation_ticks(instance, after=last_end)
            return evaluated >= ticks and len(instance.get_run_records()) == runs

        wait_until("the daemon to settle (nothing running, nothing new)", quiet, timeout, 1.0, self.tail)
        return runs

    def automation_ticks(self, instance: DagsterInstance, after: float) -> int:
        """Finished ticks of the automation sensor (AUTOMATION_SENSOR) that began after `after`."""
        states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        return sum(
            len(instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after, statuses=FINISHED))
            for state in states
            if state.instigator_name == AUTOMATION_SENSOR
        )

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def stop_group(process: subprocess.Popen, grace: float = 60) -> None:
    """SIGTERM to the process group `dagster dev` leads (webserver, daemon, code server, run workers), then
    SIGKILL to the group if its leader has not exited within `grace` seconds."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except ProcessLookupError:  # the group is gone already
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


class BackgroundStops:
    """Stops `dagster dev` process groups on threads of their own, so that the caller does not wait for the
    shutdown (seconds per server); `join` waits for all of them and SIGKILLs a group whose leader is still
    alive then. Each server works in its own folder, instance and ports, so nothing after it needs it gone."""

    def __init__(self, grace: float = 60) -> None:
        self.grace = grace
        self.pending: list[tuple[subprocess.Popen, threading.Thread]] = []

    def __call__(self, process: subprocess.Popen) -> None:
        thread = threading.Thread(target=stop_group, args=(process, self.grace), name=f"stop-{process.pid}")
        thread.daemon = True
        thread.start()
        self.pending.append((process, thread))

    def join(self, timeout: float | None = None) -> list[int]:
        """Wait for every stop (at most `timeout` seconds in all; `grace` and a margin by default); the pids of
        the leaders that had to be killed."""
        deadline = time.monotonic() + (self.grace + 30 if timeout is None else timeout)
        killed = []
        for process, thread in self.pending:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive() and process.returncode is None:  # unreaped: its pid is still its own
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                killed.append(process.pid)
                thread.join(30)
        self.pending.clear()
        return killed


@contextmanager
def dagster_dev(
    workdir: Path,
    extra_env: dict | None = None,
    cwd: Path = REPO,
    stop: Callable[[subprocess.Popen], None] = stop_group,
) -> Iterator[DevServer]:
    """`dagster dev` over `workdir`/home, up when this yields. On exit `stop(process)` ends it: by default
    `stop_group`, which returns once the processes are gone; a `BackgroundStops` returns at once."""
    home = workdir / "home"
    env = {**os.environ, **FAST}
    env.pop("MLDS_CONFIG", None)  # the shipped config unless extra_env names one
    env.update({
        **(extra_env or {}),
        "MLDS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home"), "PYTHONUNBUFFERED": "1",
    })  # fmt: skip
    dagster_instance(load_settings(env=env)).dispose()  # what `mlds instance` does first in `make dev`
    server = DevServer(home, free_port(), env, workdir / "dagster_dev.log")
    command = [
        sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(server.port),
        "-w", str(REPO / "workspace.yaml"),
    ]  # fmt: skip
    with server.log.open("w") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_http("dagster dev", process, f"{server.url}/server_info", 240, server.tail)
        yield server
    finally:
        stop(process)
