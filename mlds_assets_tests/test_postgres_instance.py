"""The fast path against a real PostgreSQL server, through the shipped Postgres profile of dagster.yaml.
The server is Debian's postgresql package (`make system-deps` installs it), started here in a temporary
folder; skipped, with that reason, where it is not installed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from mlds_assets.service.ingest import ingest
from mlds_assets.service.instance import PROFILES
from mlds_assets.service.status import status
from mlds_assets_tests.system_packages import missing


def _server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> dict:
    """A throwaway PostgreSQL server on a loopback port, trust auth, database `mlds`."""
    binaries = _server_binaries()
    if binaries is None:
        missing("postgresql", "PostgreSQL's pg_ctl and initdb")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # the server refuses root
    folder = Path(tempfile.mkdtemp(prefix="mlds-pg-"))
    folder.chmod(0o777)
    data = folder / "data"
    if run_as:
        shutil.chown(folder, "postgres")
    port = _free_port()

    def run(*command: str) -> None:
        subprocess.run([*run_as, *command], check=True, capture_output=True, text=True, timeout=120)

    run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "mlds")
    run(str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")  # fmt: skip
    try:
        run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlds", "mlds")
        yield {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(port), "DAGSTER_PG_DB": "mlds",
               "DAGSTER_PG_USERNAME": "mlds", "DAGSTER_PG_PASSWORD": ""}  # fmt: skip
    finally:
        subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_fast_path_runs_on_a_postgres_instance_through_the_shipped_profile(postgres, settings, export, monkeypatch):
    import psycopg2
    from dagster import DagsterInstance

    for name, value in postgres.items():
        monkeypatch.setenv(name, value)
    home = settings.dagster_home
    home.mkdir(parents=True)
    shutil.copy(PROFILES / "postgres.yaml", home / "dagster.yaml")
    instance = DagsterInstance.from_config(str(home))
    try:
        outcome = ingest(settings, export, "facebook", instance)
        assert outcome["status"] == "ok", outcome
        assert status(settings, instance)["platforms"]["facebook"]["batches"] == 1
        assert ingest(settings, export, "facebook", instance)["status"] == "already ingested"
    finally:
        instance.dispose()

    connection = psycopg2.connect(
        host="127.0.0.1", port=postgres["DAGSTER_PG_PORT"], dbname="mlds", user="mlds", password=""
    )
    with connection, connection.cursor() as cursor:  # the run and its events are in Postgres, not SQLite
        cursor.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        assert cursor.fetchone()[0] >= 5
        cursor.execute("SELECT count(*) FROM dynamic_partitions")
        assert cursor.fetchone()[0] == 1
    connection.close()
    assert not list(home.glob("*.db")) and not (home / "history").exists()
