"""The inbox sensor against a real instance: new files become partitions and runs, exactly once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dagster import SensorResult, build_sensor_context

from mlds_assets.definitions import build_definitions
from mlds_assets.landing_job import LANDING_JOB
from mlds_assets.settings import load_settings
from mlds_assets_tests.conftest import write_platform

CSV = "status_id,status_message,status_published\n1,hello Nike,2024-01-01 10:00:00\n2,second post,2024-01-02 10:00:00\n"


def drop(settings, folder: str, name: str, content: str, settled: bool = True) -> Path:
    path = settings.inbox_dir / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    if settled:  # as if written a minute ago: no waiting in tests
        past = time.time() - 60
        os.utime(path, (past, past))
    return path


def tick_once(settings, instance, cursor: str | None = None) -> SensorResult:
    sensor = build_definitions(settings).resolve_sensor_def("inbox_sensor")
    result = sensor(build_sensor_context(instance=instance, cursor=cursor))
    # Calling a sensor directly does not apply its partition requests: do what the daemon would.
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def run_landing(settings, instance, request):
    """Execute a landing run the sensor requested, on the same instance, as the daemon's launcher would."""
    job = build_definitions(settings).resolve_job_def(request.job_name)
    return job.execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags, raise_on_error=False
    )


def tick(settings, instance, cursor: str | None = None) -> SensorResult:
    """What the daemon does until a batch's fast-path run is requested (or nothing more happens): a file is
    taken only when a second look finds it unchanged (and settled); its landing run is executed; the next
    tick makes the batch and requests its fast path."""
    result = tick_once(settings, instance, cursor)
    for _ in range(3):
        if any(r.job_name != LANDING_JOB for r in result.run_requests):
            break
        for request in result.run_requests:
            run_landing(settings, instance, request)
        result = tick_once(settings, instance, result.cursor)
    return result


def test_the_tick_only_lists_and_a_landing_run_copies_and_hashes(settings, instance):
    drop(settings, "facebook", "week1.csv", CSV)
    first = tick_once(settings, instance)
    second = tick_once(settings, instance, first.cursor)

    [request] = second.run_requests
    assert request.job_name == LANDING_JOB and not second.dynamic_partitions_requests
    assert not settings.landing_dir.exists()  # nothing read or copied inside the tick
    files = request.run_config["ops"]["land_files"]["config"]["files"]
    assert files == [{"platform": "facebook", "path": str(settings.inbox_dir / "facebook" / "week1.csv")}]
    assert run_landing(settings, instance, request).success
    [landed] = (settings.landing_dir / "facebook").glob("week1-*.csv")
    assert landed.read_text() == CSV
    third = tick_once(settings, instance, second.cursor)  # the landed file becomes a batch and its run
    assert [r.job_name for r in third.run_requests] == ["facebook_fast_path"]
    assert instance.get_dynamic_partitions("facebook_batches") == [third.run_requests[0].partition_key]


def test_a_landing_run_reads_only_files_under_the_inbox(settings, instance, tmp_path):
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(CSV)
    job = build_definitions(settings).resolve_job_def(LANDING_JOB)
    config = {"ops": {"land_files": {"config": {"files": [{"platform": "facebook", "path": str(outside)}]}}}}
    result = job.execute_in_process(run_config=config, instance=instance, raise_on_error=False)

    assert not result.success
    assert "not under the inbox" in str(result.all_events)
    assert not settings.landing_dir.exists()


def test_new_file_becomes_partition_and_run(settings, instance):
    drop(settings, "facebook", "week1.csv", CSV)
    result = tick(settings, instance)

    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.job_name == "facebook_fast_path"
    assert request.partition_key.startswith("week1-")
    assert instance.get_dynamic_partitions("facebook_batches") == [request.partition_key]


def test_same_content_twice_gives_no_new_run(settings, instance):
    drop(settings, "facebook", "week1.csv", CSV)
    first = tick(settings, instance)
    again = tick(settings, instance, first.cursor)
    drop(settings, "facebook", "week1 (copy).csv", CSV)
    copy = tick(settings, instance, again.cursor)

    assert not again.run_requests and not copy.run_requests
    assert len(instance.get_dynamic_partitions("facebook_batches")) == 1


def test_restart_without_cursor_does_not_reingest(settings, instance):
    drop(settings, "facebook", "week1.csv", CSV)
    tick(settings, instance)
    after_restart = tick(settings, instance, cursor=None)  # cursor lost: the landing area still knows

    assert not after_restart.run_requests


def test_partial_files_wait_until_stable(settings, instance):
    drop(settings, "facebook", "upload.csv.part", CSV)
    growing = drop(settings, "facebook", "big.csv", CSV[: len(CSV) // 2])  # half written, writer paused
    first = tick_once(settings, instance)
    assert not first.run_requests  # .part ignored; big.csv seen once

    growing.write_text(CSV + "3,still writing,2024-01-03 10:00:00\n")
    past = time.time() - 60
    os.utime(growing, (past, past))
    second = tick_once(settings, instance, first.cursor)
    assert not second.run_requests  # it changed since the last look

    third = tick_once(settings, instance, second.cursor)
    [landing] = third.run_requests
    assert [Path(f["path"]).name for f in landing.run_config["ops"]["land_files"]["config"]["files"]] == ["big.csv"]
    run_landing(settings, instance, landing)
    fourth = tick_once(settings, instance, third.cursor)
    assert [r.partition_key.split("-")[0] for r in fourth.run_requests] == ["big"]
    assert len(instance.get_dynamic_partitions("facebook_batches")) == 1  # the half file never became a batch


def test_unreadable_file_fails_its_landing_run_and_the_others_are_ingested(settings, instance, monkeypatch):
    """One file that cannot be read (permissions, a vanished mount) fails the landing run, naming it; the
    others land and become batches; re-executing that run (from the UI) lands it once it is readable."""
    import mlds_assets.landing_job as landing_job

    real_land = landing_job.land_file

    def land(path, *args, **kwargs):
        if path.name == "locked.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return real_land(path, *args, **kwargs)

    monkeypatch.setattr(landing_job, "land_file", land)
    drop(settings, "facebook", "locked.csv", CSV)
    drop(settings, "facebook", "open.csv", CSV.replace("hello", "hi"))
    first = tick_once(settings, instance)
    second = tick_once(settings, instance, first.cursor)
    [landing] = second.run_requests
    failed = run_landing(settings, instance, landing)
    assert not failed.success and "locked.csv" in str(failed.all_events)
    result = tick_once(settings, instance, second.cursor)
    assert [r.partition_key.split("-")[0] for r in result.run_requests] == ["open"]

    monkeypatch.setattr(landing_job, "land_file", real_land)  # readable again: the run re-executed
    assert run_landing(settings, instance, landing).success
    later = tick_once(settings, instance, result.cursor)
    assert [r.partition_key.split("-")[0] for r in later.run_requests] == ["locked"]


def test_unknown_platform_folder_is_skipped(settings, instance):
    drop(settings, "myspace", "posts.csv", CSV)
    result = tick(settings, instance)

    assert not result.run_requests
    assert json.loads(result.cursor) == {}


def test_new_platform_is_one_yaml_file(tmp_path, config_dir, instance):
    """Onboarding: write a YAML, drop an export in its inbox, the lane ingests it. No code."""
    write_platform(
        config_dir,
        "mastodon",
        """
name: mastodon
formats: [jsonl]
fields:
  native_id: id
  text: content
  author: account.acct
  created_at: created_at
  likes: favourites_count
  shares: reblogs_count
created_at: {format: iso}
""",
    )
    # two of its three rows are meant to be quarantined: above the default 50% gate, so allow it here
    env = {"MLDS_HOME": str(tmp_path / "home"), "MLDS__INGESTION__MAX_QUARANTINE_RATE": "1"}
    settings = load_settings(config_dir, env=env)
    lines = [
        {"id": "1", "content": "Tried the new iPhone", "account": {"acct": "ann"}, "created_at": "2024-05-01T10:00:00Z",
         "favourites_count": 3, "reblogs_count": 1},
        {"id": "2", "content": "", "account": {"acct": "bob"}, "created_at": "2024-05-01T11:00:00Z"},
    ]  # fmt: skip
    drop(settings, "mastodon", "toots.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n{broken\n")

    result = tick(settings, instance)
    assert [r.job_name for r in result.run_requests] == ["mastodon_fast_path"]
    job = build_definitions(settings).resolve_job_def("mastodon_fast_path")
    run = job.execute_in_process(partition_key=result.run_requests[0].partition_key, instance=instance)

    assert run.success
    posts = run.output_for_node("mastodon__raw_posts", "raw_posts")
    quarantine = run.output_for_node("mastodon__raw_posts", "quarantine")
    assert posts["author"].tolist() == ["ann"]
    assert sorted(quarantine["field"]) == ["record", "text"]  # the broken line and the empty text
