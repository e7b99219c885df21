"""Phase 1 through Dagster with a real instance: runs, checks, lake files, idempotency, automation. The tests
of what an `mlds ingest` run does are `launched` (their own `dagster dev`; see conftest)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, build_asset_context, evaluate_automation_conditions

from mlds_assets.assets.ingestion import PHASE1, build_ingestion_lane
from mlds_assets.checks import (
    build_lane_checks,
    required_fields_result,
    rows_accounted_result,
    unique_ids_result,
)
from mlds_assets.core.landing import land_file
from mlds_assets.definitions import build_definitions
from mlds_assets.service.ingest import ingest
from mlds_assets.service.runs import run_job
from mlds_assets.service.status import status

HEADER = (
    "status_id,status_message,link_name,status_type,status_link,status_published,"
    "num_likes,num_comments,num_shares,page_name"
)
FACEBOOK_CSV = f"""{HEADER}
1_1,Loving the new Nike shoes #nike,Shoes,link,http://x/1,2024-03-01 10:00:00,10,2,1,Page
1_2,Apple launched an iPhone today https://apple.com,Launch,link,http://x/2,2024-03-01 11:00:00,20,3,4,Page
1_3,,Empty message but a headline about Google,link,http://x/3,2024-03-02 09:00:00,5,0,0,Page
1_4,No date here,,link,http://x/4,not a date,1,1,1,Page
1_5,Negative likes,,link,http://x/5,2024-03-02 12:00:00,-3,1,1,Page
1_2,Apple launched an iPhone today again,Launch,link,http://x/2,2024-03-03 11:00:00,20,3,4,Page
"""


@pytest.fixture
def facebook_file(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(FACEBOOK_CSV)
    return path


def lake_frame(settings, asset: str, batch: str) -> pd.DataFrame:
    return pd.read_parquet(Path(settings.lake_base) / "facebook" / asset / f"{batch}.parquet")


@pytest.mark.launched
def test_fast_path_runs_every_asset_and_check(settings, instance, facebook_file):
    outcome = ingest(settings, facebook_file, "facebook", instance)

    assert outcome["status"] == "ok", outcome
    assert outcome["launched"] == "webserver"  # queued by the instance, run by the daemon's launcher
    assert outcome["checks_passed"] == 6 and outcome["checks_failed"] == []  # five gates and the backlog WARN
    batch = outcome["batch"]
    for asset in PHASE1:
        assert instance.get_latest_materialization_event(AssetKey(["facebook", asset])) is not None, asset
    raw, quarantine = lake_frame(settings, "raw_posts", batch), lake_frame(settings, "quarantine", batch)
    assert len(raw) + len(quarantine) == 6  # the ledger: every row is kept or quarantined
    assert sorted(raw["native_id"]) == ["1_1", "1_2", "1_3"]  # 1_3 keeps its headline as text
    assert set(quarantine["field"]) == {"created_at", "likes", "native_id"}
    entities = lake_frame(settings, "conservative_entities", batch)
    assert {"nike", "apple", "iphone"} <= set(entities["entity_id"])
    assert (entities["confidence"] >= settings.entities.confidence_threshold).all()
    metrics = lake_frame(settings, "basic_metrics", batch)
    assert set(metrics["processing_level"]) == {"basic"}
    assert metrics.loc[metrics["metric"] == "posts", "value"].item() == 3


@pytest.mark.launched
def test_same_file_twice_or_renamed_makes_no_duplicates(settings, instance, facebook_file, tmp_path, settle):
    first = ingest(settings, facebook_file, "facebook", instance)
    assert first["launched"] == "webserver"
    again = ingest(settings, facebook_file, "facebook", instance)
    renamed = tmp_path / "renamed copy.csv"
    renamed.write_bytes(facebook_file.read_bytes())
    third = ingest(settings, renamed, "facebook", instance)

    assert again["status"] == third["status"] == "already ingested"
    assert again["batch"] == third["batch"] == first["batch"]
    settle()
    report = status(settings, instance)["platforms"]["facebook"]
    assert report["batches"] == 1 and report["posts"] == 3 and report["quarantined"] == 3


@pytest.mark.launched
def test_overlapping_exports_count_each_post_once(settings, instance, facebook_file, tmp_path, settle):
    assert ingest(settings, facebook_file, "facebook", instance)["launched"] == "webserver"
    overlap = tmp_path / "next_week.csv"
    lines = FACEBOOK_CSV.splitlines()
    overlap.write_text("\n".join([lines[0], lines[1], lines[1].replace("1_1,", "1_9,")]) + "\n")
    ingest(settings, overlap, "facebook", instance)
    settle()

    report = status(settings, instance)["platforms"]["facebook"]
    assert report["batches"] == 2
    assert report["posts"] == 4  # 1_1 arrived twice, counted once; 1_9 is new


@pytest.mark.launched
def test_rematerialising_a_partition_replaces_it(settings, instance, facebook_file):
    """Idempotent stage: a re-run of the same partition (launched as the UI does) overwrites, never appends."""
    batch = ingest(settings, facebook_file, "facebook", instance)["batch"]
    again = run_job(settings, instance, "facebook_fast_path", batch)
    assert again["status"] == "ok" and again["launched"] == "webserver", again

    assert len(lake_frame(settings, "raw_posts", batch)) == 3
    assert len(lake_frame(settings, "cleaned_posts", batch)) == 3


@pytest.mark.launched
def test_unreadable_file_fails_the_run_with_the_file_name(settings, instance, tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text('status_id,status_message\n1,"never closed\n')
    outcome = ingest(settings, bad, "facebook", instance)

    assert outcome["status"] == "failed" and outcome["launched"] == "webserver"
    assert any("broken.csv" in message for message in outcome["errors"] if message)


@pytest.mark.launched
def test_missing_required_column_fails_naming_it(settings, instance, tmp_path):
    bad = tmp_path / "wrong_export.csv"
    bad.write_text("id,message\n1,hello\n")
    outcome = ingest(settings, bad, "facebook", instance)

    assert outcome["status"] == "failed" and outcome["launched"] == "webserver"
    assert any("status_id" in (message or "") for message in outcome["errors"])


def test_cleaned_posts_by_direct_invocation(settings):
    lane = build_ingestion_lane(settings.platform("facebook"), settings)
    cleaned_asset = next(a for a in lane.assets if AssetKey(["facebook", "cleaned_posts"]) in a.keys)
    raw = pd.DataFrame(
        {
            "post_id": ["a", "b"], "text": ["Hi &amp; welcome @Nike #Run", "Hi & welcome @nike #run!"],
            "labels": ["{}", "{}"],
        }
    )  # fmt: skip
    result = cleaned_asset(build_asset_context(partition_key="batch-1"), raw)

    cleaned = result.value
    assert cleaned["clean_text"].tolist()[0] == "Hi & welcome @Nike #Run"
    assert cleaned["mentions"].tolist() == [["nike"], ["nike"]]
    assert cleaned["near_duplicate_of"].tolist()[1] == "a"
    assert result.metadata["near_duplicates"].value == 1


def test_blocking_checks_catch_bad_frames(settings):
    lane = build_ingestion_lane(settings.platform("facebook"), settings)
    definitions = build_lane_checks(lane, settings.platform("facebook"), settings)
    entity_key = lane.key("conservative_entities")
    entity_check = next(c for c in definitions if any(k.asset_key == entity_key for k in c.check_keys))
    assert unique_ids_result(pd.DataFrame({"post_id": ["x", "x"]})).passed is False
    assert required_fields_result(pd.DataFrame({"text": ["ok", " "]}), ["text"]).passed is False
    assert rows_accounted_result(pd.Series([1, 2]), pd.Series([2]), rows_in=3).passed is False  # row 2 in both
    assert rows_accounted_result(pd.Series([1, 3]), pd.Series([2]), rows_in=3).passed is True
    assert rows_accounted_result(pd.Series([1]), pd.Series([2]), rows_in=3).passed is False  # a row went missing
    low = pd.DataFrame({"confidence": [0.95, 0.5], "entity_id": ["a", "b"]})
    assert entity_check(low).passed is False
    assert entity_check(low.iloc[:1]).passed is True
    specs = [spec for c in definitions for spec in c.check_specs]
    assert len(specs) == 5 and all(spec.blocking and spec.partitions_def is lane.partitions for spec in specs)


def test_downstream_assets_are_eager_after_raw_posts(settings, instance, facebook_file):
    """Materialise only raw_posts; declarative automation then asks for the rest of phase 1, that batch only.
    (Dagster's evaluator, in process: the daemon launching the same is test_daemon's UI-launch test.)"""
    defs = build_definitions(settings)
    landed, _ = land_file(facebook_file, settings.landing_dir, "facebook")
    instance.add_dynamic_partitions("facebook_batches", [landed.partition_key])
    before = evaluate_automation_conditions(defs=defs, instance=instance)
    raw_only = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={AssetKey(["facebook", "raw_posts"]), AssetKey(["facebook", "quarantine"])}
    )
    assert raw_only.execute_in_process(partition_key=landed.partition_key, instance=instance).success

    after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    requested = {r.key: r.true_subset for r in after.results if not r.true_subset.is_empty}
    later = ("cleaned_posts", "conservative_entities", "basic_metrics", "post_collection")
    downstream = {AssetKey(["facebook", name]) for name in later}
    assert set(requested) == downstream
    for key in downstream:
        assert after.get_requested_partitions(key) == {landed.partition_key}


@pytest.mark.launched
def test_an_ingest_that_quarantines_most_rows_fails_with_counts_and_reasons(
    settings, config_dir, reload_settings, instance, facebook_file, settle
):
    """Issue 19 item 8: a wrong created_at.format quarantines every row; the quarantine_rate check (ERROR)
    fails the run, and the outcome carries rows in / kept / quarantined and the top reasons."""
    path = config_dir / "platforms" / "facebook.yaml"
    fixed_yaml = path.read_text()
    path.write_text(fixed_yaml.replace('format: "%Y-%m-%d %H:%M:%S"', 'format: "%d/%m/%Y"'))
    wrong = reload_settings()
    outcome = ingest(wrong, facebook_file, "facebook", instance)
    assert outcome["status"] != "ok" and outcome["launched"] == "webserver"
    assert "quarantine_rate_below_limit" in str(outcome.get("checks_failed", "")) + str(outcome.get("errors", ""))
    assert outcome["rows"] == {"in": 6, "kept": 0, "quarantined": 6}
    assert outcome["quarantine_share"] == 1.0
    top = outcome["top_quarantine_reasons"][0]
    assert top["rows"] >= 4 and top["reason"].startswith("created_at") and "%d/%m/%Y" in top["reason"]
    settle()  # nor does the daemon's automation sensor take the batch past the failed gate
    assert instance.get_latest_materialization_event(AssetKey(["facebook", "post_collection"])) is None  # blocked

    path.write_text(fixed_yaml)
    ok = ingest(settings, facebook_file, "facebook", instance)  # the fixed YAML: the same file runs again
    assert ok["status"] == "ok" and ok["rows"] == {"in": 6, "kept": 3, "quarantined": 3}


@pytest.mark.launched
def test_replay_maps_an_already_ingested_file_again(settings, config_dir, reload_settings, instance, facebook_file):
    """Issue 19 item 9: after a fix to the platform YAML, `--replay` re-maps the landed file (the launched run's
    worker loads the code location afresh, so it reads the fixed YAML)."""
    first = ingest(settings, facebook_file, "facebook", instance)
    assert first["launched"] == "webserver"
    assert first["status"] == "ok" and lake_frame(settings, "raw_posts", first["batch"])["author"].eq("Page").all()
    path = config_dir / "platforms" / "facebook.yaml"
    path.write_text(path.read_text().replace("author: page_name", "author: status_type"))
    fixed = reload_settings()
    assert ingest(fixed, facebook_file, "facebook", instance)["status"] == "already ingested"
    replayed = ingest(fixed, facebook_file, "facebook", instance, replay=True)
    assert replayed["status"] == "ok" and replayed["batch"] == first["batch"]
    assert lake_frame(settings, "raw_posts", first["batch"])["author"].eq("link").all()
    assert status(fixed, instance)["platforms"]["facebook"]["posts"] == 3  # re-mapped in place, not added


def test_quarantine_rate_result_and_reason_kinds():
    from mlds_assets.checks import quarantine_rate_result
    from mlds_assets.core.quarantine import reason_kind

    quarantine = pd.DataFrame({"reason": ["created_at: 'x' bad", "created_at: 'y' bad", "likes: '-3' negative"]})
    assert reason_kind("created_at: 'Tue Oct 31' does not match") == "created_at: '…' does not match"
    assert quarantine_rate_result(quarantine, 4, 0.5).passed is False
    assert quarantine_rate_result(quarantine, 6, 0.5).passed is True
    assert quarantine_rate_result(quarantine, 6, 0.5).severity.value == "ERROR"
    assert quarantine_rate_result(quarantine, None, 0.5).passed is False  # rows in unknown: not proven
