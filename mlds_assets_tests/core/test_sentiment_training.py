"""Gold labels in a file's own words, training a head on them, and measuring engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlds_assets.core.embeddings import default_embedding_model, load_sentence_encoder
from mlds_assets.core.sentiment import EmbeddingClassifierEngine, VaderEngine
from mlds_assets.core.sentiment_training import (
    GoldSetError,
    evaluate,
    gold_set,
    normalise_gold_labels,
    parse_label_map,
    train_head,
)


def test_labels_by_rule_sentiment140_and_brand_emotion():
    raw = pd.Series(["0", "2", "4", "Positive emotion", "Negative emotion", "No emotion toward brand or product",
                     "I can't tell", None])  # fmt: skip
    assert normalise_gold_labels(raw).tolist() == [
        "negative", "neutral", "positive", "positive", "negative", "neutral", pd.NA, pd.NA,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "labels", [["0", "1", "2"], ["0", "2"], ["-1", "0", "1"], ["1", "2", "3", "4", "5"], ["0", "4", "1"]]
)
def test_numeric_labels_but_sentiment140s_are_an_error_asking_for_a_label_map(labels):
    """0/1/2 used to read as Sentiment140's 0/2/4: "2" neutral, every "1" skipped, silently."""
    with pytest.raises(GoldSetError, match="--label-map"):
        normalise_gold_labels(pd.Series(labels), source="mine.csv")
    mapping = {label: "neutral" for label in labels}
    assert normalise_gold_labels(pd.Series(labels), mapping).notna().all()


def test_explicit_label_map_wins():
    mapping = parse_label_map("0=neutral, 1=positive, -1=negative")
    assert normalise_gold_labels(pd.Series(["0", "1", "-1", "5"]), mapping).tolist() == [
        "neutral", "positive", "negative", pd.NA,
    ]  # fmt: skip
    with pytest.raises(GoldSetError, match="must be one of"):
        parse_label_map("0=bad")


def test_gold_set_counts_what_it_skips():
    frame = pd.DataFrame({"t": ["good", "bad", "meh", ""], "y": ["positive", "negative", "I can't tell", "neutral"]})
    gold = gold_set(frame, "t", "y", "gold.csv")
    assert gold.labels == ["positive", "negative"]
    assert gold.skipped == {"I can't tell": 1, "neutral": 1}  # the last one has no text
    assert len(gold.texts) + sum(gold.skipped.values()) == len(frame)  # nothing dropped silently
    with pytest.raises(GoldSetError, match=r"gold\.csv: no column 'text'"):
        gold_set(frame, "text", "y", "gold.csv")


def test_evaluate_reports_accuracy_and_macro_f1():
    frame = pd.DataFrame(
        {
            "t": ["I love it, wonderful", "terrible, I hate it", "awful and broken", "great stuff"],
            "y": ["4", "0", "0", "0"],
        }
    )
    report = evaluate(VaderEngine(), gold_set(frame, "t", "y", "g"))
    assert report["accuracy"] == 0.75  # the last label is deliberately wrong
    assert 0 < report["macro_f1"] < 1
    assert report["rows"] == 4 and report["gold_labels"] == {"negative": 3, "positive": 1}
    assert report["per_class"]["negative"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3}
    assert report["per_class"]["positive"]["precision"] == 0.5 and report["per_class"]["neutral"]["support"] == 0
    assert report["confusion"]["negative"] == {"negative": 2, "neutral": 0, "positive": 1}


def _toy_gold() -> pd.DataFrame:
    positive = [
        "I love this phone",
        "great service, thank you",
        "amazing, so happy",
        "best purchase ever",
        "wonderful staff and fast delivery",
        "really enjoying it",
        "fantastic quality",
        "so good, recommend",
    ]
    negative = [
        "I hate this phone", "terrible service, never again", "awful, so angry", "worst purchase ever",
        "rude staff and slow delivery", "really disappointed", "broken on arrival", "so bad, avoid",
    ]  # fmt: skip
    return pd.DataFrame({"text": positive * 3 + negative * 3, "label": ["positive"] * 24 + ["negative"] * 24})


def test_trained_head_is_versioned_by_its_data_and_reloads_identically(tmp_path):
    encoder = load_sentence_encoder(None)
    gold = gold_set(_toy_gold(), "text", "label", "toy.csv")
    head = train_head(gold, encoder, default_embedding_model())
    assert head.meta["version"] == f"embedding-classifier:{gold.digest[:12]}"
    assert head.meta["holdout_rows"] == 10 and head.meta["training_rows"] == 38
    assert head.meta["holdout_accuracy"] >= 0.8  # separable toy data
    head.save(tmp_path / "m")
    engine = EmbeddingClassifierEngine(tmp_path / "m")
    scores = engine.score(["I love it, great", "awful, I hate it"])
    assert scores["sentiment_label"].tolist() == ["positive", "negative"]
    assert engine.version == head.meta["version"]

    other = gold_set(_toy_gold().iloc[:-1], "text", "label", "toy.csv")
    assert other.digest != gold.digest  # other data, other version


def test_training_needs_two_classes():
    gold = gold_set(pd.DataFrame({"t": ["a", "b"], "y": ["positive", "positive"]}), "t", "y", "one.csv")
    with pytest.raises(GoldSetError, match="two sentiment classes"):
        train_head(gold, None, "minilm")


def test_embeddings_are_normalised():
    from mlds_assets.core.embeddings import embed

    vectors = embed(load_sentence_encoder(None), ["hello", "world"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
