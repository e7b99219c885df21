"""Train a sentiment head on a team's own labelled posts, and measure any engine against a gold set.

Gold files label sentiment in their own words (Sentiment140: 0/2/4; brand-emotion: "Positive emotion",
"No emotion toward brand or product", "I can't tell"). Labels map to negative/neutral/positive by rule or
by an explicit map; a row whose label maps to nothing is skipped and counted, never silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlds_assets.core.embeddings import embed
from mlds_assets.core.sentiment import LABELS, ClassifierHead, SentimentEngine


class GoldSetError(ValueError):
    """A labelled file that cannot be used as it is: names the file and the column or label at fault."""


_NEGATIVE = {"0", "-1", "neg", "negative", "negative emotion"}
_NEUTRAL = {"2", "neu", "neutral", "none", "no emotion toward brand or product"}
_POSITIVE = {"4", "pos", "positive", "positive emotion"}


def parse_label_map(text: str | None) -> dict[str, str]:
    """'0=negative,2=neutral,4=positive' -> a dict; every target must be a sentiment label."""
    if not text:
        return {}
    mapping = {}
    for pair in text.split(","):
        raw, _, target = pair.partition("=")
        if target.strip() not in LABELS:
            raise GoldSetError(f"label map entry {pair!r}: the target must be one of {', '.join(LABELS)}")
        mapping[raw.strip().lower()] = target.strip()
    return mapping


def _numeric_labels_by_rule(lowered: pd.Series, source: str) -> None:
    """Numeric labels map by rule only in Sentiment140's 0/2/4 form (a 4 present, nothing but 0, 2, 4): any
    other numbers (0/1/2, -1/0/1, 1..5, or 0/2 alone) are ambiguous, and guessing would mislabel silently."""
    values = set(lowered.dropna().unique())
    numeric = {v for v in values if v.lstrip("+-").replace(".", "", 1).isdigit()}
    if not numeric:
        return
    if "4" in numeric and numeric <= {"0", "2", "4"}:
        return
    found = ", ".join(sorted(numeric, key=lambda v: float(v))[:10])
    raise GoldSetError(
        f"{source}: numeric labels ({found}) do not say which sentiment each number is; pass --label-map, "
        "e.g. --label-map 0=negative,1=neutral,2=positive (only Sentiment140's 0/2/4 is read by rule)"
    )


def normalise_gold_labels(
    labels: pd.Series, mapping: dict[str, str] | None = None, source: str = "gold labels"
) -> pd.Series:
    """negative / neutral / positive, or <NA> where the label says none of them (e.g. "I can't tell").
    Numeric labels other than Sentiment140's 0/2/4 need an explicit mapping (GoldSetError)."""
    lowered = labels.astype("string").str.strip().str.lower()
    if mapping:
        return lowered.map(mapping).astype("string")
    _numeric_labels_by_rule(lowered, source)
    out = pd.Series(pd.NA, index=labels.index, dtype="string")
    out[lowered.isin(_NEGATIVE)] = "negative"
    out[lowered.isin(_NEUTRAL)] = "neutral"
    out[lowered.isin(_POSITIVE)] = "positive"
    return out


@dataclass
class GoldSet:
    texts: list[str]
    labels: list[str]
    skipped: dict[str, int]  # raw label -> rows skipped because it maps to no sentiment
    source: str

    @property
    def digest(self) -> str:
        """sha256 of the (text, label) pairs: the training data's identity, whatever the file is called."""
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels, strict=True):
            digest.update(f"{label}\t{text}\n".encode())
        return digest.hexdigest()


def gold_set(frame: pd.DataFrame, text_col: str, label_col: str, source: str, mapping=None) -> GoldSet:
    for column in (text_col, label_col):
        if column not in frame.columns:
            raise GoldSetError(f"{source}: no column {column!r} (columns: {list(frame.columns)[:20]})")
    labels = normalise_gold_labels(frame[label_col], mapping, source)
    texts = frame[text_col].fillna("").astype(str)
    usable = labels.notna() & texts.str.strip().ne("")
    skipped = frame.loc[~usable, label_col].fillna("<empty>").astype(str).value_counts().to_dict()
    return GoldSet(texts[usable].tolist(), labels[usable].astype(str).tolist(), skipped, source)


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """Mean F1 over the classes present in the gold labels."""
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro", zero_division=0))


def per_class(gold: list[str], predicted: list[str]) -> tuple[dict, dict]:
    """Precision, recall, F1 and support per class, and the confusion matrix (gold rows, predicted columns)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=list(LABELS), zero_division=0
    )
    classes = {
        label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                "support": int(n)}
        for label, p, r, f, n in zip(LABELS, precision, recall, f1, support, strict=True)
    }  # fmt: skip
    matrix = confusion_matrix(gold, predicted, labels=list(LABELS)) if gold else np.zeros((3, 3), dtype=int)
    confusion = {g: {p: int(matrix[i, j]) for j, p in enumerate(LABELS)} for i, g in enumerate(LABELS)}
    return classes, confusion


def evaluate(engine: SentimentEngine, gold: GoldSet, batch_size: int = 512) -> dict:
    predicted: list[str] = []
    for start in range(0, len(gold.texts), batch_size):
        predicted += engine.score(gold.texts[start : start + batch_size])["sentiment_label"].astype(str).tolist()
    accuracy = float(np.mean(np.array(predicted) == np.array(gold.labels))) if gold.texts else 0.0
    classes, confusion = per_class(gold.labels, predicted)
    return {
        "engine": engine.name,
        "model_version": engine.version,
        "gold": gold.source,
        "rows": len(gold.texts),
        "skipped": sum(gold.skipped.values()),
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro_f1(gold.labels, predicted), 4),
        "gold_labels": {k: int(v) for k, v in pd.Series(gold.labels).value_counts().sort_index().items()},
        "skipped_labels": {str(k): int(v) for k, v in gold.skipped.items()},
        "per_class": classes,
        "confusion": confusion,
    }


def train_head(gold: GoldSet, encoder, embedding_model: str, holdout: float = 0.2, seed: int = 13) -> ClassifierHead:
    """Logistic regression over normalised sentence embeddings, scored on a stratified held-out split it
    never saw; the saved head is the one those scores describe."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    counts = pd.Series(gold.labels).value_counts()
    if len(counts) < 2:
        raise GoldSetError(f"{gold.source}: training needs at least two sentiment classes, found {dict(counts)}")
    embeddings = embed(encoder, gold.texts)
    labels = np.array(gold.labels)
    stratify = labels if counts.min() >= 2 else None
    train_x, test_x, train_y, test_y = train_test_split(
        embeddings, labels, test_size=holdout, random_state=seed, stratify=stratify
    )
    model = LogisticRegression(max_iter=2000, class_weight="balanced", C=2.0).fit(train_x, train_y)
    predicted = model.predict(test_x).tolist()
    scores = {
        "holdout_rows": len(test_y),
        "holdout_accuracy": round(float(np.mean(np.array(predicted) == test_y)), 4),
        "holdout_macro_f1": round(macro_f1(test_y.tolist(), predicted), 4),
    }
    meta = {
        "version": f"embedding-classifier:{gold.digest[:12]}",
        "engine": "embedding-classifier",
        "embedding_model": embedding_model,
        "training_data": gold.source,
        "training_data_sha256": gold.digest,
        "training_rows": len(train_y),
        "skipped_rows": gold.skipped,
        "label_counts": {k: int(v) for k, v in counts.items()},
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        **scores,
    }
    return ClassifierHead(model.coef_.copy(), model.intercept_.copy(), [str(c) for c in model.classes_], meta)
