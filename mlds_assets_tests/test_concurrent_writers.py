"""Four real processes ingest overlapping files of one platform at once, ten rounds: the post store holds
each post exactly once and agrees with the lake after every round (LanceDB's merge_insert alone doubles
posts that two writers insert at the same time)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from mlds_assets.settings import load_settings

WORKERS, ROUNDS, POSTS = 4, 10, 60
HEADER = "status_id,status_message,status_published\n"


def export(folder: Path, round_no: int, worker: int) -> Path:
    """Each worker's file shares half its native ids with the next worker's: the same posts arrive twice
    at the same moment."""
    start = round_no * 1000 + worker * POSTS // 2
    rows = "".join(
        f"{n},round {round_no} worker {worker} says hello to post {n},2024-01-01 10:{n % 60:02d}:00\n"
        for n in range(start, start + POSTS)
    )
    path = folder / f"r{round_no}_w{worker}.csv"
    path.write_text(HEADER + rows)
    return path


def worker(home: str, config_dir: str, number: int, folder: str, barrier, failures) -> None:
    from mlds_assets.service.ingest import ingest
    from mlds_assets.service.instance import dagster_instance

    instance = None
    try:
        settings = load_settings(Path(config_dir), env={"MLDS_HOME": home})
        instance = dagster_instance(settings)
    except Exception as exc:  # still meet the others at each barrier, so the test fails with this, not a hang
        failures.put(f"worker {number}: {exc!r}")
    for round_no in range(ROUNDS):
        barrier.wait()  # all four start the round together
        try:
            if instance is not None:
                outcome = ingest(settings, export(Path(folder), round_no, number), "facebook", instance)
                if outcome["status"] != "ok":
                    failures.put(f"round {round_no} worker {number}: {outcome}")
        except Exception as exc:  # reported to the test, which fails with it
            failures.put(f"round {round_no} worker {number}: {exc!r}")
        barrier.wait()  # round done; the test checks the store


def test_four_processes_overlapping_files_store_equals_lake_every_round(tmp_path, config_dir, monkeypatch):
    from mlds_assets.core.status import platform_status
    from mlds_assets.service.instance import dagster_instance
    from mlds_assets.service.store import open_store

    home, folder = tmp_path / "home", tmp_path / "exports"
    folder.mkdir()
    settings = load_settings(config_dir, env={"MLDS_HOME": str(home)})
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # dagster_instance points it at this test's home
    dagster_instance(settings)  # the instance exists before the writers start, as after `mlds instance`
    context = multiprocessing.get_context("spawn")
    barrier, failures = context.Barrier(WORKERS + 1), context.Queue()
    processes = [
        context.Process(target=worker, args=(str(home), str(config_dir), n, str(folder), barrier, failures))
        for n in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        for round_no in range(ROUNDS):
            barrier.wait(timeout=600)  # start
            barrier.wait(timeout=600)  # done
            problems = []
            while not failures.empty():
                problems.append(failures.get())
            assert not problems, problems
            store = open_store(settings)
            lake_posts = platform_status(settings.lake_base, "facebook")["posts"]
            distinct = (round_no + 1) * (POSTS // 2 * (WORKERS + 1))  # each round: 5 half-files of new ids
            assert lake_posts == distinct
            assert store.count({"platform": "facebook"}) == lake_posts, f"round {round_no}"
            assert store.duplicate_records({"platform": "facebook"}) == 0
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
