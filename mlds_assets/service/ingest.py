"""One export file in: landed (copied and hashed), a batch (dynamic partition) added, the platform's fast path
run for it; and a batch retired again (`mlds batch drop`)."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey, DagsterInstance

from mlds_assets.batch_status import runs_on_batch
from mlds_assets.core.landing import land_file
from mlds_assets.core.quarantine import quarantine_share, top_reasons
from mlds_assets.lake import read_lake_partition
from mlds_assets.sensors import enrich_job_name, fast_path_job_name
from mlds_assets.service.errors import BatchError
from mlds_assets.service.instance import dagster_instance
from mlds_assets.service.runs import run_job, wait_for_batch
from mlds_assets.service.store import open_store
from mlds_assets.settings import Settings
from mlds_assets.store.rebuild import drop_batch_data, record_drop


def ingest(
    settings: Settings, path: Path, platform: str, instance=None, mode: str | None = None, replay: bool = False
) -> dict:
    """Land one file and run the platform's fast path for it (and phase 2 at once in `full` mode). With
    `replay`, a file already ingested is mapped again from its landed copy (after a platform YAML fix)."""
    partitions = settings.platform(platform).partitions_name
    instance = instance or dagster_instance(settings)
    landed, _ = land_file(path, settings.landing_dir, platform, settings.ingestion.max_file_bytes)
    known = instance.has_dynamic_partition(partitions, landed.partition_key)  # not after `mlds batch drop`
    if known:
        wait_for_batch(instance, landed.partition_key, settings.runs.wait_timeout_seconds)  # the same file, now
    if known and not replay and fast_path_done(instance, platform, landed.partition_key):
        return {
            "platform": platform, "batch": landed.partition_key, "status": "already ingested",
            "hint": "mlds ingest --replay maps the landed file again (after a fix to the platform YAML)",
        }  # fmt: skip
    if not known:
        add_partition(instance, partitions, landed.partition_key)
    # else: a run for this file was killed or failed part-way; it runs again, and every step upserts
    mode = mode or settings.mode_for(platform)
    tags = {"mlds/source_file": path.name, "mlds/platform": platform, "mlds/mode": mode}
    if replay:
        tags["mlds/replay"] = "true"
    outcome = run_job(settings, instance, fast_path_job_name(platform), landed.partition_key, tags)
    outcome = {
        "platform": platform,
        "batch": landed.partition_key,
        **outcome,
        **batch_accounting(settings, platform, landed.partition_key),
    }
    if mode == "full" and outcome["status"] == "ok":  # what the automation sensor does in full mode, now
        stages = {
            stage: run_job(settings, instance, enrich_job_name(platform, stage), landed.partition_key, tags)
            for stage in ("sentiment", "embeddings")
        }
        worst = "failed" if any(s["status"] == "failed" for s in stages.values()) else None
        worst = worst or ("checks failed" if any(s["status"] != "ok" for s in stages.values()) else "ok")
        outcome["phase2"] = {"status": worst, "stages": stages}
    return outcome


def add_partition(instance: DagsterInstance, partitions: str, key: str) -> None:
    """Add a dynamic partition; the same content landing under two names at once may race another process
    to it (Dagster checks, then inserts: the loser gets an IntegrityError), which is no error at all."""
    try:
        instance.add_dynamic_partitions(partitions, [key])
    except Exception:
        if not instance.has_dynamic_partition(partitions, key):
            raise


def fast_path_done(instance: DagsterInstance, platform: str, batch: str) -> bool:
    """The batch's fast path finished: its last assets (store records, metrics) are materialised. A known
    partition without them is a run that died part-way, so the same file is run again, not skipped."""
    return all(
        batch in instance.get_materialized_partitions(AssetKey([platform, asset]))
        for asset in ("post_collection", "basic_metrics")
    )


def batch_accounting(settings: Settings, platform: str, batch: str) -> dict:
    """Rows in, kept and quarantined for one batch, and the most common quarantine reasons (from the lake)."""
    kept = read_lake_partition(settings.lake_base, [platform, "raw_posts"], batch, ["source_row"])
    quarantine = read_lake_partition(settings.lake_base, [platform, "quarantine"], batch, ["source_row", "reason"])
    if kept is None or quarantine is None:
        return {}
    rows_in = len(kept) + len(quarantine)
    return {
        "rows": {"in": rows_in, "kept": len(kept), "quarantined": len(quarantine)},
        "quarantine_share": round(quarantine_share(rows_in, len(quarantine)), 4),
        "top_quarantine_reasons": top_reasons(quarantine),
    }


def drop_batch(settings: Settings, platform: str, batch: str, instance=None) -> dict:
    """Retire a batch: its dynamic partition, lake files, landed file and store records go, and the drop is
    recorded in `<home>/batch_drops.log`. For batches that should never have been ingested (a rejected
    file keeps `mlds enrich` failing on it), or whose data must go. Refused while a run works on it."""
    partitions = settings.platform(platform).partitions_name
    instance = instance or dagster_instance(settings)
    known = instance.has_dynamic_partition(partitions, batch)
    sidecar = settings.landing_dir / platform / f"{batch}.landed.json"
    if not known and not sidecar.is_file():
        batches = instance.get_dynamic_partitions(partitions)
        raise BatchError(f"{platform} has no batch {batch!r}; its batches: {', '.join(batches[:20]) or 'none'}")
    busy = runs_on_batch(instance, batch)
    if busy:
        raise BatchError(f"run {busy[0].run_id} ({busy[0].job_name}) is working on batch {batch}; drop it after")
    dropped = drop_batch_data(open_store(settings), settings.lake_base, settings.landing_dir, platform, batch)
    if known:
        instance.delete_dynamic_partition(partitions, batch)
    record_drop(settings.home / "batch_drops.log", dropped, known)
    return {**dropped.__dict__, "partition_deleted": known, "log": str(settings.home / "batch_drops.log")}
