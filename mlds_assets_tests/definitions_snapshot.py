"""The definitions as plain JSON: what a reviewer should see change when the asset graph changes.

Assets (group, partitions, deps, pool, code version, kinds, owners, tags, automation condition, freshness,
column schema), asset checks (with their blocking flag), jobs (with the assets they select), sensors and
schedules. Paths under the test's MLDS_HOME are not in it, so the snapshot is the same on every machine.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from dagster import AssetKey, AutomationCondition, Definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
UPDATE_ENV = "MLDS_UPDATE_SNAPSHOT"


def condition_lines(condition: AutomationCondition | None, depth: int = 0) -> list[str]:
    """The condition as an indented tree, one node a line (a diff then points at the node that changed).
    A labelled node shows its label beside the operator; Dagster's own named conditions (`eager`,
    `in_progress`, `any_deps_updated`: a label without spaces) are not expanded further, ours are."""
    if condition is None:
        return []
    label = condition.get_label()
    name = condition.name + (f"  [{label}]" if label and label != condition.name else "")
    lines = ["  " * depth + name]
    if label and " " not in label:
        return lines
    for child in condition.children:
        lines += condition_lines(child, depth + 1)
    return lines


def _key(key: AssetKey) -> str:
    return key.to_user_string()


def column_schema(metadata: dict) -> list[str] | None:
    schema = metadata.get("dagster/column_schema")
    if schema is None:
        return None
    return [f"{column.name}: {column.type}" for column in schema.columns]


def snapshot(defs: Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=_key):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        spec = graph.get(key)
        metadata = dict(node.metadata)
        freshness = node.freshness_policy
        assets[_key(key)] = {
            "group": node.group_name,
            "partitions": getattr(node.partitions_def, "name", None) if node.partitions_def else None,
            "deps": sorted(_key(k) for k in node.parent_keys),
            "pools": sorted(node.pools or ()),
            "code_version": spec.code_version,
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "automation_condition": condition_lines(node.automation_condition),
            "freshness_policy": type(freshness).__name__ if freshness else None,
            "column_schema": column_schema(metadata),
            "has_description": bool(node.description),
            "has_code_reference": "dagster/code_references" in metadata,
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (_key(k.asset_key), k.name)):
        check = graph.get_check_spec(check_key)
        checks[f"{_key(check_key.asset_key)}:{check_key.name}"] = {"blocking": check.blocking}
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = sorted(_key(k) for k in job.asset_layer.selected_asset_keys)
    sensors = {
        sensor.name: {
            "type": type(sensor).__name__,
            "default_status": sensor.default_status.value,
            "minimum_interval_seconds": sensor.minimum_interval_seconds,
            "jobs": sorted(target.job_name for target in sensor.targets if not target.job_name.startswith("__")),
        }
        for sensor in sorted(defs.sensors or [], key=lambda s: s.name)
    }
    schedules = {
        schedule.name: {"cron": schedule.cron_schedule, "job": schedule.job_name}
        for schedule in sorted(defs.schedules or [], key=lambda s: s.name)
    }
    return {"assets": assets, "asset_checks": checks, "jobs": jobs, "sensors": sensors, "schedules": schedules}


def render(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def compare(defs: Definitions, path: Path = SNAPSHOT) -> str | None:
    """None when the definitions match the snapshot (or it was rewritten, with MLDS_UPDATE_SNAPSHOT=1);
    else a unified diff, snapshot -> now."""
    now = render(snapshot(defs))
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(now)
        return None
    before = path.read_text() if path.exists() else ""
    if before == now:
        return None
    diff = difflib.unified_diff(
        before.splitlines(), now.splitlines(), str(path.name), "definitions now", n=3, lineterm=""
    )
    return "\n".join(diff)
