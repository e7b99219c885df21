"""`mlds status` and the API's /platforms: posts and coverage from the store, batches from the instance."""

from __future__ import annotations

from mlds_assets.batch_status import batch_states
from mlds_assets.core.status import platform_status, store_status
from mlds_assets.service.instance import dagster_instance
from mlds_assets.service.store import open_store
from mlds_assets.settings import Settings


def status(settings: Settings, instance=None) -> dict:
    """Posts and pending counts from the post store; the rest from the lake and the instance."""
    instance = instance or dagster_instance(settings)
    store = open_store(settings)
    platforms = {}
    for name in sorted(settings.platforms):
        states = batch_states(instance, name, settings.platform(name).partitions_name)
        platforms[name] = {
            "batches": len(states["with_data"]),  # batches whose file was read; failed ones are listed apart
            "failed_batches": states["failed"],
            "batches_in_progress": len(states["in_progress"]) + len(states["never_run"]),
            **platform_status(settings.lake_base, name),
            **store_status(store, name),
        }
    return {"platforms": platforms}


def store_disagreements(settings: Settings, report: dict) -> list[str]:
    """Platforms whose store count differs from the lake's distinct posts: the store needs a rebuild."""
    problems = []
    for name, numbers in report["platforms"].items():
        lake_posts = platform_status(settings.lake_base, name)["posts"]
        if numbers["posts"] != lake_posts:
            problems.append(f"{name}: the post store has {numbers['posts']} posts, the lake {lake_posts}")
    return problems
