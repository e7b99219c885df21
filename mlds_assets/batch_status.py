"""Which of a platform's batches (dynamic partitions) hold data, and why the others do not: what `mlds
status` shows, so a file that failed is listed with its error instead of being counted as a batch."""

from __future__ import annotations

from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

IN_PROGRESS = {
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
}


def run_error(instance: DagsterInstance, run_id: str) -> str:
    """The first step error of a failed run (our exception's message, not Dagster's wrapper), or the run's."""
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.error if record.dagster_event else None
        if error is not None:
            error = error.cause or error
            return f"{record.step_key}: {error.message.strip().splitlines()[0]}"
    for record in instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE):
        return record.message or "run failed"
    return "run failed"


def batch_states(instance: DagsterInstance, platform: str, partitions_name: str) -> dict:
    """{"with_data": [...], "failed": {batch: error}, "in_progress": [...], "never_run": [...]}."""
    batches = instance.get_dynamic_partitions(partitions_name)
    with_data = instance.get_materialized_partitions(AssetKey([platform, "raw_posts"]))
    states: dict = {
        "with_data": [b for b in batches if b in with_data],
        "failed": {},
        "in_progress": [],
        "never_run": [],
    }
    for batch in batches:
        if batch in with_data:
            continue
        runs = instance.get_runs(RunsFilter(tags={"dagster/partition": batch}), limit=1)
        if not runs:
            states["never_run"].append(batch)
        elif runs[0].status in IN_PROGRESS:
            states["in_progress"].append(batch)
        else:
            states["failed"][batch] = run_error(instance, runs[0].run_id)
    return states
