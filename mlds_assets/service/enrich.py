"""`mlds enrich`: request a phase-2 stage now, and let the automation conditions say what follows.

What follows what (a batch's store records and metrics after its sentiment, resolution after entities, the
store re-sync after resolution or topics) is declared once, on the assets, as automation conditions. `mlds`
requests the stage; where the daemon runs, its automation sensor does the rest; without one, `mlds`
evaluates the same conditions itself (Dagster's `evaluate_automation_conditions`) over what lies downstream
of what it changed, and runs what they request, until they request nothing more.
"""

from __future__ import annotations

from collections import defaultdict

from dagster import AssetKey, AssetSelection, DagsterInstance, evaluate_automation_conditions

from mlds_assets.assets.topics import CROSS_PLATFORM
from mlds_assets.definitions import build_definitions
from mlds_assets.sensors import enrich_job_name, topics_job_name
from mlds_assets.service.instance import dagster_instance
from mlds_assets.service.runs import launch_path, run_job
from mlds_assets.settings import Settings

MAX_FOLLOW_UP_ROUNDS = 12  # resolution -> store re-sync -> ... is three deep today


def enrich(
    settings: Settings, only: str = "sentiment", platform: str | None = None, instance=None, force: bool = False
) -> list[dict]:
    """Run a phase-2 stage now for every batch of a platform (or all): pending posts only. Topics run per
    platform and, without --platform, across platforms; `force` refits them. Then what the automation
    conditions request downstream (resolution, store re-sync), here or by the daemon."""
    instance = instance or dagster_instance(settings)
    defs = build_definitions(settings)
    tags = {"mlds/stage": only, "mlds/trigger": "mlds enrich"}
    if only == "topics":
        scopes = [platform] if platform else [*sorted(settings.platforms), CROSS_PLATFORM]
        requests = [(topics_job_name(scope), None, scope) for scope in scopes]
    else:
        names = [platform] if platform else sorted(settings.platforms)
        requests = [
            (enrich_job_name(name, only), batch, name)
            for name in names
            for batch in instance.get_dynamic_partitions(settings.platform(name).partitions_name)
        ]
    if not requests:
        return []
    # the conditions downstream of what these jobs write; "updated since" counts from now
    written = {key for job in {r[0] for r in requests} for key in _job_assets(defs, job)}
    downstream = AssetSelection.assets(*written).downstream(include_self=False)
    cursor = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=downstream).cursor
    outcomes = []
    for job, batch, scope in requests:
        if batch is None:
            ops = {f"{scope}_topic_model": {"config": {"force": force}}}
            outcome = run_job(settings, instance, job, None, tags, ops)
            changed = f"{scope}/topic_assignments" in outcome.get("materialized", [])
            stage = "topics" if changed else "topics (no change)"
            outcomes.append({"platform": scope, "batch": "-", "stage": stage, **outcome})
        else:
            outcome = run_job(settings, instance, job, batch, {**tags, "mlds/platform": scope})
            outcomes.append({"platform": scope, "batch": batch, "stage": only, **outcome})
    if outcomes and launch_path(settings, instance)[0] == "in_process":
        outcomes += follow_up(settings, instance, defs, cursor, downstream, tags)
    return outcomes


def follow_up(settings: Settings, instance: DagsterInstance, defs, cursor, selection, tags: dict) -> list[dict]:
    """What the automation sensor would launch in `selection` since `cursor`, run here: each round evaluates
    the conditions and runs the requested assets, one run per partition, until nothing is requested."""
    outcomes = []
    keys = selection.resolve(defs.resolve_asset_graph())
    for _ in range(MAX_FOLLOW_UP_ROUNDS):
        result = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection, cursor=cursor)
        cursor = result.cursor
        by_partition: dict[str | None, list[AssetKey]] = defaultdict(list)
        for key in keys:
            for partition in result.get_requested_partitions(key):
                by_partition[partition].append(key)
        if not by_partition:
            break
        follow = {**tags, "mlds/trigger": "mlds enrich (automation conditions)"}
        for partition, requested in sorted(by_partition.items(), key=lambda item: item[0] or ""):
            for job, assets in _jobs_covering(defs, requested):
                outcome = run_job(settings, instance, job, partition, follow, assets=sorted(assets))
                what = ", ".join(sorted({k.path[-1] for k in assets}))
                outcomes.append({"platform": _scope(assets), "batch": partition or "-", "stage": what, **outcome})
    return outcomes


def _job_assets(defs, job: str) -> set[AssetKey]:
    return set(defs.resolve_job_def(job).asset_layer.executable_asset_keys)


def _jobs_covering(defs, assets: list[AssetKey]) -> list[tuple[str, list[AssetKey]]]:
    """The smallest named job holding all of `assets` (one run), else the smallest for each asset."""
    by_size = sorted(((job.name, _job_assets(defs, job.name)) for job in defs.jobs), key=lambda j: (len(j[1]), j[0]))
    for name, keys in by_size:
        if set(assets) <= keys:
            return [(name, assets)]
    return [(next(name for name, keys in by_size if asset in keys), [asset]) for asset in assets]


def _scope(assets: list[AssetKey]) -> str:
    scopes = {key.path[0] for key in assets}
    return scopes.pop() if len(scopes) == 1 else CROSS_PLATFORM
