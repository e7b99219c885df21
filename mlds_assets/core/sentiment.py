"""Sentiment engines behind one interface: `score(texts)` -> label, score in [-1, 1], class probabilities.

- `minilm-finetuned`: the default. The packaged MiniLM with its top layers fine-tuned on labelled tweets; the
  fine-tuned layers ship in this package (mlds_assets/models/sentiment_minilm, see its MODEL_CARD.md), or a
  folder from `mlds train sentiment --method finetune`. Calibrated probabilities (temperature scaling).
- `vader`: the social-media lexicon; offline, fast.
- `embedding-classifier`: a logistic-regression head over MiniLM sentence embeddings, trained on a team's own
  labelled posts (`mlds train sentiment`); see `sentiment_training`.
- `transformers`: a `text-classification` model from a local directory or a hub name already in the cache.
  Nothing is ever downloaded: a model that is not there fails at once, naming what was asked for.
- `module:Class`: any class with the same interface, for engines a team brings.

Whatever the engine, texts are masked first (`mask_text`): @handles -> @user, URLs -> http, the entity
dictionary's aliases -> @user, so a brand's name carries no sentiment; the version records the alias list.

Every engine has a `version`; a score row records it, so a new model re-queues exactly what it did not score.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from upath import UPath

from mlds_assets.core.embeddings import (
    ModelUnavailableError,
    embed,
    load_sentence_encoder,
    quiet_transformers,
    resolve_device,
)
from mlds_assets.core.sentiment_masking import LABELS, Masker
from mlds_assets.core.upaths import local_folder

SCORE_COLUMNS = [
    "sentiment_label",
    "sentiment_score",
    "prob_negative",
    "prob_neutral",
    "prob_positive",
    "sentiment_confidence",
]


class SentimentModelError(ModelUnavailableError):
    """A configured model that cannot be loaded; the message names the path or hub name and what to do."""


@runtime_checkable
class SentimentEngine(Protocol):
    name: str  # vader | embedding-classifier | transformers | a custom engine's name
    version: str  # changes whenever the same text could get a different score

    def score(self, texts: list[str]) -> pd.DataFrame:
        """One row per text, in order, with SCORE_COLUMNS."""


def scores_frame(probabilities: np.ndarray, score: np.ndarray | None = None, labels=None) -> pd.DataFrame:
    """Rows of (p_negative, p_neutral, p_positive) as score rows. By default the label is the likeliest class
    and the score is p_positive - p_negative, so it lies in [-1, 1] whatever the engine. The confidence is the
    largest class probability (calibrated for `minilm-finetuned`, by temperature scaling)."""
    probabilities = np.asarray(probabilities, dtype="float64").reshape(-1, 3)
    if labels is None:
        labels = np.array(LABELS, dtype=object)[probabilities.argmax(axis=1)] if len(probabilities) else []
    return pd.DataFrame(
        {
            "sentiment_label": np.asarray(labels, dtype=object),
            "sentiment_score": probabilities[:, 2] - probabilities[:, 0] if score is None else score,
            "prob_negative": probabilities[:, 0],
            "prob_neutral": probabilities[:, 1],
            "prob_positive": probabilities[:, 2],
            "sentiment_confidence": probabilities.max(axis=1) if len(probabilities) else np.zeros(0),
        }
    )


class VaderEngine:
    """VADER's compound score with its usual cut-offs (>= 0.05 positive, <= -0.05 negative). Its
    probabilities are VADER's neg/neu/pos proportions of the text, which sum to 1."""

    name = "vader"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self.version = "vader:" + importlib.metadata.version("vaderSentiment")

    def score(self, texts: list[str]) -> pd.DataFrame:
        polarity = self._analyzer.polarity_scores
        values = np.array(
            [(p["neg"], p["neu"], p["pos"], p["compound"]) for p in map(polarity, (t or "" for t in texts))],
            dtype="float64",
        ).reshape(-1, 4)
        compound = values[:, 3]
        labels = np.where(compound >= 0.05, "positive", np.where(compound <= -0.05, "negative", "neutral"))
        return scores_frame(values[:, :3], score=compound, labels=labels)


def label_for(name: str, n_labels: int, index: int) -> str | None:
    """A model's own label name as negative/neutral/positive; LABEL_k by position for 2 or 3 classes."""
    lowered = name.strip().lower()
    for label in LABELS:
        if lowered.startswith(label[:3]):
            return label
    if lowered.startswith("label_") and n_labels in (2, 3):
        return ("negative", "positive")[index] if n_labels == 2 else LABELS[index]
    return None


class TransformersEngine:
    """A `text-classification` pipeline: batched, truncated at the model's maximum length, on CUDA when
    there is one, optionally under bf16 autocast on CPU."""

    name = "transformers"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        batch_size: int = 32,
        max_length: int | None = None,
        bf16_on_cpu: bool = False,
        label_map: dict[str, str] | None = None,
    ) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

        quiet_transformers()
        local = Path(model).expanduser()
        source = str(local) if local.is_dir() else model
        try:  # local_files_only: a hub name works only when it is already in the cache
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            network = AutoModelForSequenceClassification.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError) as error:
            where = "the directory" if local.is_dir() else "a local directory or a hub name in the Hugging Face cache"
            raise SentimentModelError(
                f"sentiment model {model!r} could not be loaded as {where}; nothing is downloaded at run time. "
                "Point sentiment.transformers.model at a model directory (or cache the hub model where there is "
                f"internet), or set sentiment.fallback_engine. Cause: {str(error).splitlines()[0]}"
            ) from None
        id2label = network.config.id2label
        mapping = {name.lower(): target for name, target in (label_map or {}).items()}
        self._labels: list[str] = []
        for index in range(len(id2label)):
            raw = id2label[index]
            target = mapping.get(raw.lower()) or label_for(raw, len(id2label), index)
            if target is None:
                raise SentimentModelError(
                    f"sentiment model {model!r}: cannot tell which sentiment its label {raw!r} is "
                    f"(labels {list(id2label.values())}); set sentiment.transformers.label_map"
                )
            self._labels.append(target)
        self._target_by_raw = dict(zip(id2label.values(), self._labels, strict=True))
        self.device = device = resolve_device(device)
        self.max_length = max_length or min(tokenizer.model_max_length, network.config.max_position_embeddings)
        self.batch_size = batch_size
        self._autocast = bf16_on_cpu and device == "cpu"
        self._pipeline = pipeline("text-classification", model=network, tokenizer=tokenizer, device=device)
        commit = getattr(network.config, "_commit_hash", None) or _weights_digest(network)
        self.version = f"transformers:{model}@{commit}{':bf16' if self._autocast else ''}"

    def score(self, texts: list[str]) -> pd.DataFrame:
        import torch

        if not texts:
            return scores_frame(np.zeros((0, 3)))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._autocast), torch.inference_mode():
            outputs = self._pipeline(
                [text or "" for text in texts],
                batch_size=self.batch_size,
                truncation=True,
                max_length=self.max_length,
                top_k=None,
            )
        probabilities = np.zeros((len(texts), 3))
        for row, classes in enumerate(outputs):
            for item in classes:
                probabilities[row, LABELS.index(self._target_by_raw[item["label"]])] += item["score"]
        return scores_frame(probabilities)


def _weights_digest(network) -> str:
    """A short digest of the weights, for models without a hub commit: retraining changes the version."""

    digest = hashlib.sha1()
    for name, tensor in sorted(network.state_dict().items())[:8]:
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes()[:4096])
    return digest.hexdigest()[:12]


@dataclass
class ClassifierHead:
    """A logistic-regression head stored as plain arrays (no pickle): loading a model never runs code."""

    coef: np.ndarray  # (n_classes, dim), or (1, dim) for two classes
    intercept: np.ndarray
    classes: list[str]  # negative / neutral / positive, in the order of the rows above
    meta: dict

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = embeddings @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:  # scikit-learn's binary form: one logit for classes[1]
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            per_class = np.column_stack([1.0 - positive, positive])
        else:
            logits = logits - logits.max(axis=1, keepdims=True)
            per_class = np.exp(logits)
            per_class /= per_class.sum(axis=1, keepdims=True)
        out = np.zeros((len(embeddings), 3))
        for column, label in enumerate(self.classes):
            out[:, LABELS.index(label)] = per_class[:, column]
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "head.npz", coef=self.coef, intercept=self.intercept)
        (folder / "model.json").write_text(json.dumps({**self.meta, "classes": self.classes}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> ClassifierHead:
        try:
            arrays = np.load(folder / "head.npz", allow_pickle=False)
            meta = json.loads((folder / "model.json").read_text())
        except (OSError, ValueError) as error:
            raise SentimentModelError(f"sentiment classifier in {folder} could not be loaded: {error}") from None
        return cls(arrays["coef"], arrays["intercept"], list(meta.pop("classes")), meta)


class EmbeddingClassifierEngine:
    name = "embedding-classifier"

    def __init__(self, folder: Path, embedding_model: str | None = None, device: str = "cpu") -> None:
        self.head = ClassifierHead.load(folder)
        self._encoder = load_sentence_encoder(embedding_model or self.head.meta.get("embedding_model"), device)
        self.version = self.head.meta["version"]

    def score(self, texts: list[str]) -> pd.DataFrame:
        if not texts:
            return scores_frame(np.zeros((0, 3)))
        return scores_frame(self.head.probabilities(embed(self._encoder, texts)))


class FinetunedEngine:
    """The fine-tuned MiniLM (`sentiment_finetune.MiniLMSentiment`); its version is the digest of the
    shipped weights plus the scoring precision where it is not fp32, so a new model, or another precision,
    re-scores what an older one scored. `sentiment.precision` auto (the default) scores in bf16 where the CPU
    multiplies bf16 natively, else in int8 (dynamic quantisation); fp32 is the model as trained. Speed and
    agreement with fp32 are in the model card."""

    name = "minilm-finetuned"

    def __init__(
        self, folder: str | Path | None = None, batch_size: int = 64, threads: int | None = None,
        precision: str = "auto",
    ) -> None:  # fmt: skip
        from mlds_assets.core.sentiment_finetune import META_FILE, SHIPPED_DIR, WEIGHTS_FILE, MiniLMSentiment

        self.folder = Path(folder).expanduser() if folder else SHIPPED_DIR
        if not (self.folder / META_FILE).is_file() or not (self.folder / WEIGHTS_FILE).is_file():
            raise SentimentModelError(
                f"no fine-tuned sentiment model in {self.folder} ({META_FILE} and {WEIGHTS_FILE}): train one with "
                "`mlds train sentiment --method finetune`, or set sentiment.finetuned_path"
            )
        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            self.model, self.meta = MiniLMSentiment.load(self.folder)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise SentimentModelError(
                f"fine-tuned sentiment model in {self.folder} could not be loaded: {error}"
            ) from None
        self.model.for_inference(precision)
        self.batch_size = batch_size
        self.precision = precision = self.model.precision  # auto, resolved for this CPU
        suffix = "" if precision == "fp32" else f":{precision}"
        self.version = f"minilm-finetuned:{self.meta['weights_sha256'][:12]}{suffix}"

    def score(self, texts: list[str]) -> pd.DataFrame:
        if not texts:
            return scores_frame(np.zeros((0, 3)))
        return scores_frame(self.model.probabilities([t or "" for t in texts], self.batch_size))


class MaskedEngine:
    """Any engine, scoring masked texts; its version names the alias list as well."""

    def __init__(self, engine: SentimentEngine, masker: Masker) -> None:
        self.engine, self.masker = engine, masker
        self.name = engine.name
        self.version = f"{engine.version}+mask:{masker.digest}"

    def score(self, texts: list[str]) -> pd.DataFrame:
        return self.engine.score(self.masker(list(texts)))


def dictionary_aliases(path: Path | None) -> list[str]:
    """Every entity's name and aliases from the entity dictionary (none where there is no dictionary)."""
    if path is None or not Path(path).is_file():
        return []
    from mlds_assets.core.entities import EntityDictionary

    table = EntityDictionary.load(path)
    return [alias for entity in table.entities.values() for alias in (entity.name, *entity.aliases)]


def newest_classifier(models_dir: Path) -> Path:
    candidates = sorted((models_dir / "sentiment").glob("*/model.json"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise SentimentModelError(
            f"no trained sentiment classifier under {models_dir / 'sentiment'}: run "
            "`mlds train sentiment --gold FILE --text-col C --label-col L` first, or set sentiment.classifier_path"
        )
    return candidates[-1].parent


def build_engine(engine: str, sentiment_settings, models_dir: Path) -> SentimentEngine:
    """One engine by name, as configured (settings.SentimentSettings)."""
    if engine == "minilm-finetuned":
        finetuned = sentiment_settings.finetuned_path
        return FinetunedEngine(
            local_folder(UPath(finetuned)) if finetuned else None, sentiment_settings.batch_size,
            precision=sentiment_settings.precision,
        )  # fmt: skip
    if engine == "vader":
        return VaderEngine()
    if engine == "transformers":
        t = sentiment_settings.transformers
        return TransformersEngine(t.model, t.device, t.batch_size, t.max_length, t.bf16_on_cpu, dict(t.label_map))
    if engine == "embedding-classifier":
        folder = UPath(sentiment_settings.classifier_path) if sentiment_settings.classifier_path else None
        folder = local_folder(folder or newest_classifier(models_dir))  # downloaded once where it is remote
        return EmbeddingClassifierEngine(folder, sentiment_settings.embedding_model)
    if ":" in engine:  # module:Class
        module, _, attribute = engine.partition(":")
        try:
            instance = getattr(importlib.import_module(module), attribute)()
        except (ImportError, AttributeError) as error:
            raise SentimentModelError(f"sentiment engine {engine!r} could not be imported: {error}") from None
        if not isinstance(instance, SentimentEngine):
            raise SentimentModelError(f"sentiment engine {engine!r} has no name, version and score(texts)")
        return instance
    raise SentimentModelError(
        f"unknown sentiment engine {engine!r}: minilm-finetuned, vader, embedding-classifier, transformers "
        "or module:Class"
    )


def load_engine(
    sentiment_settings, models_dir: Path, aliases=(), engine: str | None = None
) -> tuple[SentimentEngine, str | None]:
    """The configured engine (masked, when sentiment.mask is on), or the configured fallback when it cannot
    load: (engine, why it fell back)."""

    def masked(built: SentimentEngine) -> SentimentEngine:
        return MaskedEngine(built, Masker(aliases)) if sentiment_settings.mask else built

    try:
        return masked(build_engine(engine or sentiment_settings.engine, sentiment_settings, models_dir)), None
    except ModelUnavailableError as error:
        if not sentiment_settings.fallback_engine:
            raise
        fallback = build_engine(sentiment_settings.fallback_engine, sentiment_settings, models_dir)
        return masked(fallback), str(error)


def version_tag(engine: SentimentEngine, configured_version: str) -> str:
    """What a score row records: the engine's own version plus the configured one (bump it to re-score)."""
    return f"{engine.version}#{configured_version}"


def score_rows(engine: SentimentEngine, version: str, rows: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """Score rows (post_id, clean_text): what a sentiment_scores row holds, with the engine actually used."""
    scores = engine.score(rows["clean_text"].fillna("").astype(str).tolist())
    n = len(scores)

    def constant(value: str) -> pd.Categorical:  # one dictionary entry, not a string per row, in Parquet too
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])

    scores["sentiment_label"] = pd.Categorical(scores["sentiment_label"], categories=LABELS)
    return pd.concat([rows[["post_id"]].reset_index(drop=True), scores], axis=1).assign(
        engine=constant(engine.name),
        model_version=constant(version),
        scored_at=pd.Timestamp.now(tz="UTC"),
        run_id=constant(run_id),
    )
