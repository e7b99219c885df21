"""`make bench`, phase 2: sentiment_scores through Dagster beside the bare engine on the same texts.

The asset's time covers what a scheduled run does: reading the batch's cleaned posts, finding what is
pending, scoring in checkpointed chunks, writing the output. The engine is loaded before the clock starts
on both sides, so the ratio is the asset's overhead over the raw library.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pandas as pd


def _timed(fn, *args, **kwargs) -> float:
    """Seconds for one call; its result is dropped and garbage collected first, so neither side of a
    comparison pays for the other's leftovers."""
    gc.collect()
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def bench_sentiment(rows: int, workdir: str, queue) -> None:
    from dagster import AssetKey, instance_for_test

    from mlds_assets.assets.sentiment import configured_engine
    from mlds_assets.cli import QUIET_RUN, ingest
    from mlds_assets.core.demo_data import generate_facebook_csv
    from mlds_assets.core.tiny_models import build_tiny_transformer
    from mlds_assets.definitions import build_definitions
    from mlds_assets.settings import load_settings

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
            engine_settings = load_settings(env={**base_env, **env})
            configured_engine(engine_settings)  # loaded (and cached) before the clock starts
            bare = _bare(label, model, engine_settings)
            out[f"{label}_bare"] = _timed(bare, texts)
            defs = build_definitions(engine_settings)
            job = defs.resolve_job_def(
                "facebook_sentiment"
            ).get_subset(  # the asset's step; its gate is a step of its own
                asset_selection={AssetKey(["facebook", "sentiment_scores"])}, asset_check_selection=set()
            )

            def asset_run(job=job, label=label) -> None:
                result = job.execute_in_process(
                    partition_key=batch, instance=instance, run_config=QUIET_RUN, raise_on_error=False
                )
                out[f"{label}_ok"] = result.success

            out[f"{label}_asset"] = _timed(asset_run)
    queue.put(out)


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
        f"Sentiment, {result['posts']:,} posts of one batch (chunks of processing.batch_size):",
        "",
        "| engine | bare library (s) | sentiment_scores through Dagster (s) | asset / bare | posts/s (asset) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label in ("vader", "tiny transformer"):
        bare, asset = result[f"{label}_bare"], result[f"{label}_asset"]
        lines.append(f"| {label} | {bare:.2f} | {asset:.2f} | {asset / bare:.2f}x | {result['posts'] / asset:,.0f} |")
    return "\n".join(lines) + "\n"
