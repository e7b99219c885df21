"""`make bench`, phase 2: sentiment_scores and enhanced_entities through Dagster beside the bare library
on the same texts (VADER, a transformers pipeline, spaCy's `nlp.pipe` with the same components).

The asset's time covers what a scheduled run does: reading the batch's cleaned posts, finding what is
pending, working in checkpointed chunks, writing the output. Models are loaded before the clock starts
on both sides, so the ratio is the asset's overhead over the raw library.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pandas as pd

# Best of three for the fast engine, whose ratio a noisy neighbour moves by several percent; one run of the
# slow one, whose minute-long runs average the noise out.
REPEATS = {"vader": 3, "tiny transformer": 1}


def _timed(fn, *args, **kwargs) -> float:
    """Seconds for one call; its result is dropped and garbage collected first, so neither side of a
    comparison pays for the other's leftovers."""
    gc.collect()
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def bench_phase2(rows: int, workdir: str, queue) -> None:
    from dagster import AssetKey, instance_for_test

    from mlds_assets.assets.sentiment import configured_engine
    from mlds_assets.definitions import build_definitions
    from mlds_assets.demo.exports import generate_facebook_csv
    from mlds_assets.service.ingest import ingest
    from mlds_assets.service.runs import QUIET_RUN
    from mlds_assets.settings import load_settings
    from mlds_assets_tests.tiny_models import build_tiny_transformer

    work = Path(workdir)
    model = build_tiny_transformer(work / "tiny-model")
    base_env = {"MLDS_HOME": str(work / "home"), "MLDS__SENTIMENT__TRANSFORMERS__DEVICE": "cpu"}
    settings = load_settings(env=base_env)
    export = generate_facebook_csv(work / f"facebook_{rows}.csv", rows, dirty=False)
    out: dict = {"rows": rows}
    (work / "dagster_home").mkdir()
    with instance_for_test(temp_dir=str(work / "dagster_home")) as instance:
        batch = ingest(settings, export.path, "facebook", instance)["batch"]
        texts = pd.read_parquet(Path(settings.lake_base) / "facebook" / "cleaned_posts" / f"{batch}.parquet")
        texts = texts["clean_text"].fillna("").tolist()
        out["posts"] = len(texts)

        engines = {
            "vader": {"MLDS__SENTIMENT__ENGINE": "vader"},
            "tiny transformer": {
                "MLDS__SENTIMENT__ENGINE": "transformers",
                "MLDS__SENTIMENT__TRANSFORMERS__MODEL": str(model),
            },
        }
        for label, env in engines.items():
            bare_times, asset_times, step_times = [], [], []
            for repeat in range(REPEATS[label]):  # alternate the two sides; keep each side's best run
                # A new model version per repeat leaves every post pending again, as after a model change.
                version = {"MLDS__SENTIMENT__MODEL_VERSION": f"bench-{repeat}"}
                engine_settings = load_settings(env={**base_env, **env, **version})
                configured_engine(engine_settings)  # loaded (and cached) before the clock starts
                bare_times.append(_timed(_bare(label, model, engine_settings), texts))
                job = (
                    build_definitions(engine_settings)
                    .resolve_job_def("facebook_sentiment")
                    .get_subset(  # the asset's own step; its gate is a step of its own
                        asset_selection={AssetKey(["facebook", "sentiment_scores"])}, asset_check_selection=set()
                    )
                )

                def asset_run(job=job, label=label, step_times=step_times) -> None:
                    result = job.execute_in_process(
                        partition_key=batch, instance=instance, run_config=QUIET_RUN, raise_on_error=False
                    )
                    out[f"{label}_ok"] = result.success
                    step_times.append(_step_seconds(instance, result.run_id))

                asset_times.append(_timed(asset_run))
            out[f"{label}_bare"], out[f"{label}_asset"] = min(bare_times), min(asset_times)
            out[f"{label}_step"] = min(step_times)
            out[f"{label}_repeats"] = REPEATS[label]
        _bench_entities(settings, instance, batch, texts, out)
    queue.put(out)


def timed_run(job, instance, partition: str) -> tuple[float, float]:
    """(the whole run's seconds, its asset step's seconds) for one partition of a one-asset job."""
    from mlds_assets.service.runs import QUIET_RUN

    step: list[float] = []

    def run() -> None:
        result = job.execute_in_process(partition_key=partition, instance=instance, run_config=QUIET_RUN)
        step.append(_step_seconds(instance, result.run_id))

    return _timed(run), step[0]


def _step_seconds(instance, run_id: str, step: str | None = None) -> float:
    """The asset step alone, STEP_START to STEP_SUCCESS: input read, chunks, checkpoints, output write;
    not the run's own launch and bookkeeping. `step` names it where the run has others (checks)."""
    times = {
        entry.dagster_event.event_type_value: entry.timestamp
        for entry in instance.all_logs(run_id)
        if entry.dagster_event
        and entry.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS")
        and (step is None or entry.dagster_event.step_key == step)
    }
    return times["STEP_SUCCESS"] - times["STEP_START"]


def _bare(label: str, model: Path, settings):
    """The raw library on the same texts, with the engine's own batching and truncation."""
    if label == "vader":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()
        return lambda texts: [analyzer.polarity_scores(t) for t in texts] and None
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model), device="cpu")
    batch = settings.sentiment.transformers.batch_size
    return lambda texts: classify(texts, batch_size=batch, truncation=True, max_length=128, top_k=None) and None


def markdown(result: dict) -> str:
    lines = [
        f"Phase 2, {result['posts']:,} posts of one batch (chunks of processing.batch_size); best of "
        f"{result['vader_repeats']} runs for VADER:",
        "",
        "| asset, engine | bare library (s) | asset step (s) | step / bare | whole run (s) | run / bare "
        "| posts/s (step) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label in ("vader", "tiny transformer", "spacy"):
        bare, step, run = result[f"{label}_bare"], result[f"{label}_step"], result[f"{label}_asset"]
        label = "spaCy NER + ruler (enhanced_entities)" if label == "spacy" else label
        lines.append(
            f"| {label} | {bare:.2f} | {step:.2f} | {step / bare:.2f}x | {run:.2f} | {run / bare:.2f}x | "
            f"{result['posts'] / step:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def _bench_entities(settings, instance, batch: str, texts: list[str], out: dict) -> None:
    """enhanced_entities' step beside `nlp.pipe` over the same texts with the same pipeline (ruler + ner),
    batch size and processes, reading every entity as the asset does."""
    from mlds_assets.assets.enhanced_entities import configured_pipeline
    from mlds_assets.definitions import build_definitions

    enhanced = settings.entities.enhanced
    nlp, _ = configured_pipeline(settings)  # loaded before the clock

    def bare(texts: list[str]) -> None:
        docs = nlp.pipe(texts, batch_size=enhanced.batch_size, n_process=enhanced.n_process)
        found = [(e.text, e.label_, e.start_char, e.end_char, e.ent_id_) for doc in docs for e in doc.ents]
        del found

    out["spacy_bare"] = _timed(bare, texts)
    job = build_definitions(settings).resolve_job_def("facebook_entities")
    out["spacy_asset"], out["spacy_step"] = timed_run(job, instance, batch)
