"""mlds runs jobs in process without keeping their outputs in memory (they are in the lake)."""

from __future__ import annotations

import pytest
from dagster import DagsterInvariantViolationError, Definitions, asset, define_asset_job

from mlds_assets.execution import run_in_process


@asset
def numbers() -> list[int]:
    return list(range(5))


@asset
def total(numbers: list[int]) -> int:
    return sum(numbers)


def test_the_run_succeeds_but_its_outputs_are_not_kept():
    job = Definitions(assets=[numbers, total], jobs=[define_asset_job("both")]).resolve_job_def("both")
    kept = job.execute_in_process()
    assert kept.output_for_node("total") == 10  # Dagster's default keeps every output

    result = run_in_process(job)
    assert result.success
    assert [e.asset_key.path for e in result.get_asset_materialization_events()] == [["numbers"], ["total"]]
    with pytest.raises(DagsterInvariantViolationError):
        result.output_for_node("total")  # not held in memory: if this passes again, memory grows back
    assert job.execute_in_process().output_for_node("total") == 10  # the switch is undone afterwards
