"""A launched run and the `mlds` that launched it must mean the same settings.

A run `mlds` sends to `make dev` (or a deployment) is executed by a run worker that loads the code location
with the deployment's environment and config directory, not the shell's: `MLDS__SENTIMENT__MODEL_VERSION=2
mlds enrich` would otherwise re-score nothing and report success. So `mlds` tags each launched run with a
digest of its settings, section by section, and the run worker refuses to start work when its own differ,
naming the sections and the variables on each side. Where the settings live (home, config folder, instance)
and how `mlds` launches (`runs`) may differ: a run on another pod or checkout is the normal case; so may
what only the daemon or the API server reads.
"""

from __future__ import annotations

import hashlib
import json

from mlds_assets.settings import ENV_PREFIX, ConfigError, Settings, load_settings

RUN_TAG = "mlds/settings"
# Not what a run does: where settings are read, how `mlds` launches, the API server, the daemon's cadence
# (a `make dev` may tick faster than the shell's config says).
NOT_WHAT_A_RUN_DOES = {
    "home": True, "config_dir": True, "instance_dir": True, "runs": True, "api": True,
    "ingestion": {"settle_seconds", "sensor_interval_seconds"},
    "concurrency": {"automation_interval_seconds", "dead_run_check_seconds"},
}  # fmt: skip
CLIENT_ONLY_PREFIX = f"{ENV_PREFIX}RUNS__"  # how `mlds` launches: never seen by a run


def settings_digest(settings: Settings) -> dict[str, str]:
    """{section: short hash}; each platform is a section of its own (`platforms.facebook`)."""
    dump = settings.model_dump(mode="json", exclude=NOT_WHAT_A_RUN_DOES)
    platforms = dump.pop("platforms")
    sections = {**dump, **{f"platforms.{name}": config for name, config in platforms.items()}}
    return {
        name: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
        for name, value in sorted(sections.items())
    }


def run_overrides(settings: Settings) -> list[str]:
    """The names (never the values: a variable may hold a secret) of the MLDS__ variables these settings were
    loaded with that a run would see."""
    return [name for name in settings.env_variables if not name.startswith(CLIENT_ONLY_PREFIX)]


def launch_tag(settings: Settings) -> str:
    return json.dumps({"digest": settings_digest(settings), "env": run_overrides(settings)}, separators=(",", ":"))


def launch_mismatch(tag: str, settings: Settings) -> str | None:
    """Why this run must not go on with `settings` (the run worker's), or None when `mlds` meant the same."""
    launched = json.loads(tag)
    ours = settings_digest(settings)
    theirs = launched.get("digest", {})
    differ = sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name))
    if not differ:
        return None
    their_env = ", ".join(launched.get("env", [])) or "no MLDS__ variable"
    our_env = ", ".join(run_overrides(settings)) or "no MLDS__ variable"
    return (
        f"the `mlds` that launched this run has other settings than this run worker in: {', '.join(differ)}. "
        f"It had {their_env} set; this run worker (the deployment's environment and {settings.config_dir}) "
        f"has {our_env} set. A launched run uses the deployment's configuration, so it would not do what was asked: "
        f"put the setting in {settings.config_dir} (the next launched run reads it; the UI and the daemon "
        "after 'Reload definitions'), start `make dev` with the variable, or run the command in its own "
        "process (MLDS__RUNS__LAUNCH=in_process)."
    )


def refuse_other_settings(tag: str) -> None:
    """In a launched run's worker: raise ConfigError (failing the run, with the reason in the UI and in
    `mlds`'s output) when the `mlds` that launched it meant other settings."""
    reason = launch_mismatch(tag, load_settings())
    if reason:
        raise ConfigError(reason)
