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


def step_errors(instance: DagsterInstance, run_id: str) -> list[str]:
    """The error our code raised in each failed step ("step: message"), not Dagster's wrapper around it."""
    errors = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.error if record.dagster_event else None
        if error is not None:
            error = error.cause or error  # the step error wraps ours; ours may wrap a library's
            errors.append(f"{record.step_key}: {error.message.strip()}")
    return errors


def run_error(instance: DagsterInstance, run_id: str) -> str:
    """The first line of a failed run's first step error, or of the error that failed the run itself."""
    errors = step_errors(instance, run_id)
    if errors:
        return errors[0].splitlines()[0]
    for record in instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE):
        error = record.dagster_event.job_failure_data.error if record.dagster_event else None
        if error is not None:  # e.g. a resource that refused to start: ours, not Dagster's wrapper
            return (error.cause or error).message.strip().splitlines()[0]
        return record.message or "run failed"
    return "run failed"


def runs_on_batch(instance: DagsterInstance, partition: str) -> list:
    """Runs working on a batch right now (started or starting; a queued one has not touched it yet)."""
    working = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
    return instance.get_runs(RunsFilter(tags={"dagster/partition": partition}, statuses=working))


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
