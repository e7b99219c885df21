"""enhanced_entities through Dagster: every post recorded (with or without entities), pending posts only;
resolution after it. Every test here runs `launched` (its own `dagster dev`): `mlds enrich` requests the
stage, the daemon's automation sensor launches the resolution after it (`automation_runs`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey

from mlds_assets.core.enhanced_entities import flatten
from mlds_assets.demo.exports import generate_facebook_csv
from mlds_assets.service.enrich import enrich
from mlds_assets.service.ingest import ingest
from mlds_assets_tests.conftest import set_config
from mlds_assets_tests.lake_reading import automation_runs, lake, latest_metadata

CANONICAL = AssetKey(["cross_platform", "resolved_entities"])


@pytest.mark.launched
def test_enrich_entities_records_every_post_and_resumes_nothing_twice(settings, instance, export, settle):
    batch = ingest(settings, export, "facebook", instance)["batch"]
    settle()
    [outcome, *_] = enrich(settings, "entities", "facebook", instance)
    assert outcome["status"] == "ok" and outcome["launched"] == "webserver", outcome
    settle()  # what follows, as the automation conditions request it: resolution and the store re-sync after it
    ended = instance.get_run_record_by_id(outcome["run_id"]).end_time
    for asset in ("resolved_entities", "store_resync"):
        latest = instance.get_latest_materialization_event(AssetKey(["cross_platform", asset]))
        assert latest is not None and latest.timestamp > ended, asset  # launched by the daemon after enrich
    per_post = lake(settings, "enhanced_entities", batch)
    assert len(per_post) == 120 and per_post["post_id"].is_unique  # posts with no entity are recorded too
    flat = flatten(per_post)
    assert len(flat) > 0 and set(flat["method"]) <= {"ruler", "ner"}
    assert flat.loc[flat["method"] == "ruler", "entity_id"].notna().all()  # dictionary aliases keep their id
    key = AssetKey(["facebook", "enhanced_entities"])
    assert latest_metadata(instance, key)["processed_this_run"] == 120
    enrich(settings, "entities", "facebook", instance)
    assert latest_metadata(instance, key)["processed_this_run"] == 0  # nothing pending, nothing redone


@pytest.mark.launched
def test_resolution_across_platforms_and_a_decision_that_survives_rematerialisation(
    settings, config_dir, instance, tmp_path, capsys, monkeypatch, settle
):
    from mlds_assets.cli import main
    from mlds_assets.core.resolution import load_decisions
    from mlds_assets.service.review import review_queue

    export = generate_facebook_csv(tmp_path / "fb.csv", 120, dirty=False).path
    assert ingest(settings, export, "facebook", instance)["launched"] == "webserver"
    settle()
    [entities] = enrich(settings, "entities", "facebook", instance)
    assert entities["launched"] == "webserver", entities
    settle()
    [resolution] = automation_runs(instance, CANONICAL, entities["run_id"])  # requested by its condition
    assert resolution["status"] == "ok", resolution

    base = Path(settings.lake_base) / "cross_platform"
    canonical = pd.read_parquet(base / "resolved_entities.parquet").set_index("entity_id")
    mentions = pd.read_parquet(base / "entity_mentions.parquet")
    assert "nike" in canonical.index and canonical.loc["nike", "mentions"] > 0
    assert mentions["resolver_version"].eq("resolver:2").all()
    assert {"conservative", "ruler"} <= set(mentions["link"])
    queue = review_queue(settings)
    assert not queue.empty  # the generated posts name people and places NER finds at low confidence
    conflict = queue.iloc[0]
    monkeypatch.setenv("MLDS_HOME", str(settings.home))
    monkeypatch.setenv("MLDS_CONFIG", str(config_dir))
    assert main(["review", "decide", conflict["conflict_id"], "--merge-into", "nike"]) == 0
    assert load_decisions(settings.entity_decisions_path)[conflict["conflict_id"]].target == "nike"

    enrich(settings, "entities", "facebook", instance)  # re-materialise
    settle()
    assert conflict["conflict_id"] not in set(review_queue(settings)["conflict_id"])  # never returns
    mentions = pd.read_parquet(base / "entity_mentions.parquet")
    decided = mentions[mentions["conflict_id"] == conflict["conflict_id"]]
    assert len(decided) and set(decided["canonical_id"]) == {"nike"} and set(decided["link"]) == {"decision"}
    after = pd.read_parquet(base / "resolved_entities.parquet").set_index("entity_id").loc["nike"]
    assert conflict["surface"] in list(after["aliases"])  # the canonical table changed as decided
    assert after["mentions"] == canonical.loc["nike", "mentions"] + len(decided)


@pytest.fixture
def gold_mapping(config_dir):
    """A gold mapping in the config `dagster dev` starts with (request it before `settings`): the
    resolution_accuracy check exists only where one is configured."""
    (config_dir / "entity_gold.csv").write_text("surface,canonical_id\nNike,nike\nApple,apple\nTesla,tesla\n")
    set_config(config_dir, "entities.resolution.gold", "entity_gold.csv")


@pytest.mark.launched
def test_resolution_accuracy_check_runs_when_a_gold_mapping_is_configured(
    gold_mapping, settings, config_dir, tmp_path, instance, settle
):
    export = generate_facebook_csv(tmp_path / "fb.csv", 120, dirty=False).path
    assert ingest(settings, export, "facebook", instance)["launched"] == "webserver"
    settle()
    [entities] = enrich(settings, "entities", "facebook", instance)
    settle()
    resolution = automation_runs(instance, CANONICAL, entities["run_id"])[-1]
    assert resolution["status"] == "ok" and resolution["checks_failed"] == [], resolution
    assert resolution["checks_passed"] + len(resolution["checks_warned"]) == 2  # the queue size and the accuracy

    (config_dir / "entity_gold.csv").write_text("surface,canonical_id\nNike,adidas\nApple,tesla\n")  # all wrong
    [entities] = enrich(settings, "entities", "facebook", instance)
    settle()
    failed = automation_runs(instance, CANONICAL, entities["run_id"])[-1]
    assert failed["checks_failed"] == ["resolution_accuracy"]


@pytest.mark.launched
def test_store_and_metrics_pick_up_canonical_ids_that_only_resolution_found(settings, instance, tmp_path, settle):
    from mlds_assets.service.store import open_store

    export = tmp_path / "lower_case.csv"
    export.write_text(
        "status_id,status_message,link_name,status_published,num_likes,num_comments,num_shares\n"
        "1_1,i love my apple watch,,2024-03-01 10:00:00,1,0,0\n"  # lower case: below the conservative threshold
        "1_2,Nike shoes again,,2024-03-01 11:00:00,1,0,0\n"
    )
    first = ingest(settings, export, "facebook", instance)
    assert first["launched"] == "webserver"
    batch = first["batch"]
    assert "apple" not in set(lake(settings, "conservative_entities", batch)["entity_id"])
    settle()
    enrich(settings, "entities", "facebook", instance)
    settle()  # resolution, then the store re-sync: the daemon launches them
    store = open_store(settings)
    records = store.fetch({"platform": "facebook"}, limit=10).set_index("native_id")
    assert list(records.loc["1_1", "entities"]) == ["apple"]  # the entity ruler found it; resolution linked it
    assert "Apple" in list(records.loc["1_1", "entity_names"])
    assert list(records.loc["1_2", "entities"]) == ["nike"]
    metrics = lake(settings, "basic_metrics", batch)
    top = metrics[metrics["metric"] == "top_entity_posts"].set_index("key")["value"]
    assert top.to_dict() == {"Nike": 1.0}  # basic metrics: the batch's own conservative entities, not re-run

    from mlds_assets.store.rebuild import rebuild_platform

    assert rebuild_platform(store, settings.lake_base, "facebook") == 2  # the store is a projection of the lake
    rebuilt = store.fetch({"platform": "facebook"}, limit=10).set_index("native_id")
    assert list(rebuilt.loc["1_1", "entities"]) == ["apple"]  # resolution's links come back too
