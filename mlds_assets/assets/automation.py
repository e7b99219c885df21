"""Automation conditions and freshness policies shared by the lanes: when phase-2 stages run, how stale
they may get, and how the store and metrics re-sync as phase-2 results arrive."""

from dagster import AssetKey, AssetSelection, AutomationCondition, FreshnessPolicy

from mlds_assets.core.schedules import schedule_period
from mlds_assets.settings import PlatformConfig, Settings


def resync_condition(*optional: AssetKey) -> AutomationCondition:
    """Eager, except that the `optional` parents (phase-2 results) need not exist yet: the store gets phase
    1 at once, and re-syncs whenever any parent, optional ones included, updates."""
    return (
        (AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()).since_last_handled()
        & ~AutomationCondition.any_deps_missing().ignore(AssetSelection.assets(*optional))
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("eager; phase-2 parents optional")


def phase2_condition(platform: PlatformConfig, settings: Settings, stage: str) -> AutomationCondition | None:
    """`full` mode: eagerly after phase 1. `fast` mode: at the platform's cron tick, every batch that was
    never done, whose input changed, or whose code version (engine + model version) changed since."""
    if settings.mode_for(platform.name) == "full":
        return AutomationCondition.eager()
    cron = platform.schedules.get(stage)
    if cron is None:
        return None  # on demand only: `mlds enrich` or the UI
    stale = (
        AutomationCondition.missing()
        | AutomationCondition.any_deps_updated().since_last_handled()
        | AutomationCondition.code_version_changed().since_last_handled()
    )
    return (
        AutomationCondition.cron_tick_passed(cron, "UTC")
        & stale
        & ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label(f"{stage} at {cron} UTC, pending batches")


def phase2_freshness(platform: PlatformConfig, stage: str) -> FreshnessPolicy | None:
    cron = platform.schedules.get(stage)
    if cron is None:
        return None
    # Fresh when the last materialisation lies within one period before each tick: yesterday's 02:00 run
    # satisfies today's 02:00 deadline, and a day without a run shows as stale at the next tick.
    return FreshnessPolicy.cron(deadline_cron=cron, lower_bound_delta=schedule_period(cron))
