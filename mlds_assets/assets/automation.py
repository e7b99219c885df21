"""Automation conditions and freshness policies shared by the lanes: when phase-2 stages run, how stale
they may get, and how the store and metrics re-sync as phase-2 results arrive.

Every condition here carries `all_deps_blocking_checks_passed`: Dagster's eager condition does not look at
blocking checks, so without it the automation sensor would re-request, in a run of its own, the very
downstream steps a failed gate had just stopped."""

from dagster import AssetKey, AssetSelection, AutomationCondition, FreshnessPolicy

from mlds_assets.core.schedules import schedule_period
from mlds_assets.settings import PlatformConfig, Settings

POOL_STORE = "mlds_store"  # every step that writes the post store: one at a time (concurrency.store_writers)
POOL_MODELS = "mlds_models"  # every step that loads a model: bounded (concurrency.model_steps)


def gates_passed() -> AutomationCondition:
    """Every parent's blocking checks passed for this partition (or run in this very tick), where the parent
    exists: Dagster's all_deps_blocking_checks_passed() would also wait, forever, on an optional phase-2
    parent that was never materialised (the store takes a batch before its sentiment exists)."""
    passed = AutomationCondition.all_checks_match(
        AutomationCondition.check_passed() | AutomationCondition.will_be_requested(), blocking_only=True
    )
    return AutomationCondition.all_deps_match(passed | AutomationCondition.missing()).with_label(
        "blocking checks of every materialised parent passed"
    )


def gated_eager() -> AutomationCondition:
    """Eager, but never past a parent whose blocking check failed for that partition."""
    return (AutomationCondition.eager() & gates_passed()).with_label("eager; blocking checks passed")


def resync_condition(*optional: AssetKey, silent: tuple[AssetKey, ...] = ()) -> AutomationCondition:
    """Eager, except that the `optional` parents (phase-2 results) need not exist yet: the store gets phase
    1 at once, and re-syncs whenever a parent of the same batch updates. `silent` parents (cross-platform,
    unpartitioned: resolution, topic assignments) are read when the step runs but do not trigger it: an
    update of theirs would otherwise re-run every partition of every platform. The store_resync asset
    carries their changes to just the batches they touch."""
    updated = AutomationCondition.any_deps_updated()
    if silent:
        updated = updated.ignore(AssetSelection.assets(*silent))
    return (
        (AutomationCondition.newly_missing() | updated).since_last_handled()
        & ~AutomationCondition.any_deps_missing().ignore(AssetSelection.assets(*optional))
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
        & gates_passed()
    ).with_label("eager per batch; phase-2 parents optional; blocking checks passed")


def phase2_condition(platform: PlatformConfig, settings: Settings, stage: str) -> AutomationCondition | None:
    """`full` mode: eagerly after phase 1. `fast` mode: at the platform's cron tick, every batch that was
    never done, whose input changed, or whose code version (engine + model version) changed since."""
    if settings.mode_for(platform.name) == "full":
        return gated_eager()
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
        & gates_passed()
    ).with_label(f"{stage} at {cron} UTC, pending batches")


def phase2_freshness(platform: PlatformConfig, stage: str) -> FreshnessPolicy | None:
    cron = platform.schedules.get(stage)
    return None if cron is None else cron_freshness(cron)


def cron_freshness(cron: str) -> FreshnessPolicy:
    """Fresh when the last materialisation lies within one period before each tick: yesterday's 02:00 run
    satisfies today's 02:00 deadline, and a day without a run shows as stale at the next tick."""
    return FreshnessPolicy.cron(deadline_cron=cron, lower_bound_delta=schedule_period(cron))
