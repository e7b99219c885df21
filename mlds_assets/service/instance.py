"""The persistent Dagster instance under `<MLDS_HOME>/dagster_home`: the one `make dev`, the daemon and every
`mlds` command share (SQLite by default, Postgres by `dagster_profiles/postgres.yaml`)."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterInstance

from mlds_assets.assets.automation import POOL_MODELS, POOL_STORE
from mlds_assets.run_reaper import fail_dead_runs
from mlds_assets.settings import Settings

PROFILES = Path(__file__).resolve().parent.parent / "dagster_profiles"  # dagster.yaml: SQLite (default), Postgres
DAGSTER_YAML = (PROFILES / "sqlite.yaml").read_text()


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The instance, created on first use, its pools sized from config and its dead `mlds` runs failed.
    It is opened by path (not through DAGSTER_HOME): this process's environment is left as it was."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # written beside and renamed: a second `mlds` starting now never reads half a file
        partial = home / f".dagster.yaml.{os.getpid()}.tmp"
        partial.write_text(DAGSTER_YAML)
        os.replace(partial, config)
    instance = DagsterInstance.from_config(str(home))
    apply_pool_limits(instance, settings)
    fail_dead_runs(instance, include_daemon_runs=False)  # a killed `mlds ingest` leaves no STARTED run behind
    return instance


def apply_pool_limits(instance: DagsterInstance, settings: Settings) -> dict[str, int]:
    """Size the Dagster pools from `concurrency` in global.yaml (the profiles' default_limit of 1 holds
    until then): every run on this instance, from the daemon, the UI or `mlds`, then shares them."""
    wanted = {POOL_STORE: settings.concurrency.store_writers, POOL_MODELS: settings.concurrency.model_steps}
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    current = {pool.name: pool.limit for pool in storage.get_pool_limits()}
    for pool, limit in wanted.items():
        if current.get(pool) != limit:
            try:
                storage.set_concurrency_slots(pool, limit)
            except Exception:  # another `mlds` starting at the same moment sized it first (unique key)
                now = {p.name: p.limit for p in storage.get_pool_limits()}
                if now.get(pool) != limit:
                    raise
    return wanted
