"""The automation sensor's decisions, by Dagster's own evaluator on a real instance: a failed blocking check
stops its batch, and a new file costs the same number of runs however many batches exist."""

from __future__ import annotations

import datetime

from dagster import AssetKey, evaluate_automation_conditions, instance_for_test

from mlds_assets.automation_probe import runs_for_new_file
from mlds_assets.core.landing import land_file
from mlds_assets.definitions import build_definitions
from mlds_assets.service.ingest import ingest
from mlds_assets.settings import load_settings


def test_new_file_costs_the_same_runs_at_2_and_8_batches(tmp_path, config_dir):
    """(`make bench` measures 10 and 200; before store_resync, resolution re-ran every partition.)"""
    found = {}
    for existing in (2, 8):
        settings = load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / f"home{existing}")})
        (tmp_path / f"dagster{existing}").mkdir()
        with instance_for_test(temp_dir=str(tmp_path / f"dagster{existing}")) as instance:
            found[existing] = runs_for_new_file(settings, instance, existing)
    assert found[2]["settled"] == 0 and found[8]["settled"] == 0
    assert found[2]["steps"] == found[8]["steps"]  # the same assets, the same partitions
    first, after_resolution = found[8]["steps"]
    assert set(first) == {
        "cross_platform/entity_mentions", "cross_platform/resolved_entities", "cross_platform/entity_review_queue",
        "cross_platform/store_resync",
    }  # fmt: skip
    assert after_resolution == {}  # no batch re-synced for it: store_resync carries the changes
    assert found[8]["runs"] == 1


def test_failed_blocking_check_keeps_the_batch_out_of_automation(tmp_path, config_dir):
    """A real fast-path run whose quarantine gate fails: the automation sensor must not request the assets
    it stopped (cleaned_posts ... post_collection) in a run of its own, while a good batch goes on."""
    settings = load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / "home")})
    bad = tmp_path / "mostly_bad.csv"
    bad.write_text(
        "status_id,status_message,status_published\n1,fine post,2024-01-01 10:00:00\n"
        + "".join(f"{n},,2024-01-01 10:00:00\n" for n in range(2, 6))  # empty text: quarantined
    )
    good = tmp_path / "good.csv"
    good.write_text("status_id,status_message,status_published\n7,hello Nike,2024-01-01 10:00:00\n")
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        defs = build_definitions(settings)
        now = datetime.datetime(2026, 1, 5, 12, 0, tzinfo=datetime.timezone.utc)
        result = evaluate_automation_conditions(defs, instance, evaluation_time=now)  # the sensor's earlier tick
        outcome = ingest(settings, bad, "facebook", instance)
        assert outcome["status"] == "failed"  # a failed blocking check fails the run, naming the gate
        assert any("quarantine_rate_below_limit" in error for error in outcome["errors"])
        bad_batch = outcome["batch"]
        cleaned = AssetKey(["facebook", "cleaned_posts"])
        assert bad_batch not in instance.get_materialized_partitions(cleaned)
        # a good batch whose raw data (and its gates) ran alone, as one partition launched from the UI
        landed, _ = land_file(good, settings.landing_dir, "facebook")
        instance.add_dynamic_partitions("facebook_batches", [landed.partition_key])
        raw_keys = {AssetKey(["facebook", "raw_posts"]), AssetKey(["facebook", "quarantine"])}
        gates = {k for k in defs.resolve_asset_graph().asset_check_keys if k.asset_key in raw_keys}
        raw = defs.resolve_job_def("facebook_fast_path").get_subset(
            asset_selection=raw_keys, asset_check_selection=gates
        )
        assert raw.execute_in_process(partition_key=landed.partition_key, instance=instance).success
        for _ in range(3):  # the next ticks: the good batch goes on, the failed one never does
            now += datetime.timedelta(minutes=1)
            result = evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=result.cursor)
            assert bad_batch not in result.get_requested_partitions(cleaned)
            assert bad_batch not in result.get_requested_partitions(AssetKey(["facebook", "post_collection"]))
            if landed.partition_key in result.get_requested_partitions(cleaned):
                break
        else:
            raise AssertionError("the good batch was never requested downstream")
