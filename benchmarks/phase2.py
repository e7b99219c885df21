"""`make bench`, phase 2: sentiment_scores and enhanced_entities through Dagster beside the bare library
on the same texts (VADER, a transformers pipeline, spaCy's `nlp.pipe` with the same components), and the
default engine, the shipped fine-tuned MiniLM, in its default scoring path (int8) and in fp32, each beside
plain transformers + torch doing the same forward passes (`_bare_finetuned`).

The asset's time covers what a scheduled run does: reading the batch's cleaned posts, finding what is
pending, working in checkpointed chunks, writing the output. Models are loaded before the clock starts
on both sides, so the ratio is the asset's overhead over the raw library.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

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


def bench_phase2(rows: int, workdir: str, queue, entities: bool = True) -> None:
    """`entities=False` (`--phase2-parts sentiment`) leaves out spaCy: about 20 minutes at 200k posts."""
    from dagster import AssetKey, instance_for_test

    from benchmarks.batches import ingested_batch
    from mlds_assets.assets.sentiment import configured_engine
    from mlds_assets.definitions import build_definitions
    from mlds_assets.service.runs import QUIET_RUN
    from mlds_assets.settings import load_settings
    from mlds_assets_tests.tiny_models import build_tiny_transformer

    work = Path(workdir)
    model = build_tiny_transformer(work / "tiny-model")
    base_env = {"MLDS_HOME": str(work / "home"), "MLDS__SENTIMENT__TRANSFORMERS__DEVICE": "cpu"}
    settings = load_settings(env=base_env)
    out: dict = {"rows": rows}
    (work / "dagster_home").mkdir()
    with instance_for_test(temp_dir=str(work / "dagster_home")) as instance:
        batch, texts = ingested_batch(settings, work, rows, instance)
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
        _bench_finetuned(base_env, instance, batch, texts, out)
        if entities:
            _bench_entities(settings, instance, batch, texts, out)
    queue.put(out)


# bench label -> sentiment.precision: the default (auto: bf16 where the CPU has native bf16, else int8), int8
# (what auto picks elsewhere) and fp32 (the model as trained: the baseline)
FINETUNED = {"minilm-finetuned": "auto", "minilm-finetuned int8": "int8", "minilm-finetuned fp32": "fp32"}


def _sentiment_step(settings, instance, batch: str) -> float:
    """The sentiment_scores asset step alone (no checks) for one batch, as a scheduled run does it."""
    from dagster import AssetKey

    from mlds_assets.definitions import build_definitions
    from mlds_assets.service.runs import QUIET_RUN

    job = build_definitions(settings).resolve_job_def("facebook_sentiment").get_subset(
        asset_selection={AssetKey(["facebook", "sentiment_scores"])}, asset_check_selection=set()
    )  # fmt: skip
    gc.collect()
    result = job.execute_in_process(partition_key=batch, instance=instance, run_config=QUIET_RUN)
    return _step_seconds(instance, result.run_id)


def _bench_finetuned(base_env: dict, instance, batch: str, texts: list[str], out: dict) -> None:
    """The default engine's step in its default scoring path, in int8 and in fp32, each beside the bare library
    doing the same forward passes; interleaved, best of two below 50k posts (one run each above: an hour)."""
    from mlds_assets.assets.sentiment import configured_engine
    from mlds_assets.settings import load_settings

    repeats = 2 if len(texts) <= 50_000 else 1
    steps: dict[str, list[float]] = {label: [] for label in FINETUNED}
    bares: dict[str, list[float]] = {label: [] for label in FINETUNED}
    for repeat in range(repeats):
        for label, precision in FINETUNED.items():
            env = {**base_env, "MLDS__SENTIMENT__ENGINE": "minilm-finetuned", "MLDS__SENTIMENT__PRECISION": precision,
                   "MLDS__SENTIMENT__MODEL_VERSION": f"bench-{repeat}"}  # fmt: skip
            settings = load_settings(env=env)
            engine, _ = configured_engine(settings)  # loaded (and cached) before the clock starts
            engine = engine.engine if hasattr(engine, "engine") else engine  # unmasked: bare masks nothing
            out[f"{label}_precision"] = engine.precision  # auto, resolved on this CPU
            bare = _bare_finetuned(engine, engine.precision)
            bares[label].append(_timed(bare, texts))
            steps[label].append(_sentiment_step(settings, instance, batch))
    for label in FINETUNED:
        out[f"{label}_bare"], out[f"{label}_step"] = min(bares[label]), min(steps[label])
        out[f"{label}_repeats"] = repeats


def _bare_finetuned(engine, precision: str):
    """Plain transformers + torch doing the engine's forward passes: the base MiniLM with the fine-tuned top
    layers loaded, quantised as the engine is, texts tokenized once and sorted by token length, batches of
    the engine's size padded to their longest, mean pooling and the head; same process, same threads. What
    it leaves out is MLDS's own work: masking, chunks, checkpoints, the Parquet output."""
    import numpy as np
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    from mlds_assets.core.embeddings import default_embedding_model
    from mlds_assets.core.sentiment_finetune import WEIGHTS_FILE, dequantize

    base = default_embedding_model()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModel.from_pretrained(base, local_files_only=True).eval()
    state = dequantize(load_file(str(engine.folder / WEIGHTS_FILE)))  # the shipped file: int8 rows -> fp32
    layers: dict[int, dict] = {}
    for key, tensor in state.items():
        if key.startswith("layer."):
            _, index, name = key.split(".", 2)
            layers.setdefault(int(index), {})[name] = tensor.float()
    for index, layer_state in layers.items():
        model.encoder.layer[index].load_state_dict(layer_state)
    head = torch.nn.Linear(model.config.hidden_size, 3)
    head.load_state_dict({"weight": state["head.weight"].float(), "bias": state["head.bias"].float()})
    if precision == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        model = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig})
    elif precision == "bf16":
        model, head = model.to(torch.bfloat16), head.to(torch.bfloat16)
    size, max_length = engine.batch_size, engine.model.max_length

    def run(texts: list[str]) -> None:
        ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        order = np.argsort([len(i) for i in ids], kind="stable")
        out = np.zeros((len(texts), 3), dtype="float32")
        with torch.inference_mode():
            for start in range(0, len(texts), size):
                index = order[start : start + size]
                batch = tokenizer.pad({"input_ids": [ids[i] for i in index]}, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                weights = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                out[index] = torch.softmax(head((hidden * weights).sum(1) / weights.sum(1)).float(), -1).numpy()

    return run


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
    for label in ("vader", "tiny transformer", "spacy")[: 3 if "spacy_step" in result else 2]:
        bare, step, run = result[f"{label}_bare"], result[f"{label}_step"], result[f"{label}_asset"]
        label = "spaCy NER + ruler (enhanced_entities)" if label == "spacy" else label
        lines.append(
            f"| {label} | {bare:.2f} | {step:.2f} | {step / bare:.2f}x | {run:.2f} | {run / bare:.2f}x | "
            f"{result['posts'] / step:,.0f} |"
        )
    return "\n".join(lines) + "\n\n" + finetuned_markdown(result)


def finetuned_markdown(result: dict) -> str:
    """The default engine's rows: posts/s of the asset step and of the bare library, int8 and fp32."""
    if "minilm-finetuned_step" not in result:
        return ""
    posts = result["posts"]
    lines = [
        f"The default engine, `minilm-finetuned` (the shipped model), {posts:,} posts, best of "
        f"{result['minilm-finetuned_repeats']} interleaved runs; bare = plain transformers + torch, same weights, "
        "batches and threads:",
        "",
        "| scoring path | bare library posts/s | asset step posts/s | step / bare (time) | step vs fp32 step |",
        "|---|---:|---:|---:|---:|",
    ]
    fp32_step = result["minilm-finetuned fp32_step"]
    for label, precision in FINETUNED.items():
        bare, step = result[f"{label}_bare"], result[f"{label}_step"]
        name = f"{result[f'{label}_precision']} (default: auto)" if precision == "auto" else precision
        lines.append(
            f"| {name} | {posts / bare:,.1f} | {posts / step:,.1f} | {step / bare:.2f}x | {fp32_step / step:.2f}x |"
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
