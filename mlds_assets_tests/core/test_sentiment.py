"""Sentiment engines: one interface, scores in [-1, 1], versions, and loud failures for missing models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlds_assets.core.sentiment import (
    LABELS,
    SCORE_COLUMNS,
    ClassifierHead,
    SentimentModelError,
    TransformersEngine,
    VaderEngine,
    build_engine,
    label_for,
    load_engine,
    score_rows,
    scores_frame,
    version_tag,
)
from mlds_assets.settings import SentimentSettings

TEXTS = ["I love this, best service ever!", "Worst experience, totally broken and rude staff", "The store opens at 9"]


def assert_valid_scores(frame: pd.DataFrame, n: int) -> None:
    assert list(frame.columns) == SCORE_COLUMNS
    assert len(frame) == n
    assert frame["sentiment_score"].between(-1, 1).all()
    assert set(frame["sentiment_label"]) <= set(LABELS)
    probabilities = frame[["prob_negative", "prob_neutral", "prob_positive"]].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)


def test_vader_labels_obvious_texts_and_keeps_order():
    scores = VaderEngine().score(TEXTS)
    assert_valid_scores(scores, 3)
    assert scores["sentiment_label"].tolist() == ["positive", "negative", "neutral"]
    assert scores["sentiment_score"].iloc[0] > 0.5 > -0.5 > scores["sentiment_score"].iloc[1]


def test_vader_handles_empty_and_missing_text():
    scores = VaderEngine().score(["", None])
    assert scores["sentiment_label"].tolist() == ["neutral", "neutral"]


def test_scores_frame_takes_likeliest_label_and_signed_score():
    frame = scores_frame(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    assert frame["sentiment_label"].tolist() == ["negative", "positive"]
    assert np.allclose(frame["sentiment_score"], [-0.6, 0.7])


@pytest.mark.parametrize(
    ("name", "n", "index", "expected"),
    [
        ("NEGATIVE", 3, 0, "negative"),
        ("Neutral", 3, 1, "neutral"),
        ("pos", 2, 1, "positive"),
        ("LABEL_2", 3, 2, "positive"),
        ("LABEL_1", 2, 1, "positive"),
        ("LABEL_0", 5, 0, None),  # five stars: position says nothing
        ("joy", 3, 0, None),
    ],
)
def test_label_for(name, n, index, expected):
    assert label_for(name, n, index) == expected


@pytest.mark.parametrize("classes", [["negative", "positive"], ["negative", "neutral", "positive"]])
def test_classifier_head_matches_scikit_learn(classes, tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8))
    y = np.array(classes * (60 // len(classes)))
    model = LogisticRegression(max_iter=500).fit(x, y)
    head = ClassifierHead(model.coef_, model.intercept_, list(model.classes_), {"version": "embedding-classifier:x"})
    head.save(tmp_path / "head")
    loaded = ClassifierHead.load(tmp_path / "head")
    ours = loaded.probabilities(x)
    theirs = model.predict_proba(x)
    for column, label in enumerate(model.classes_):
        assert np.allclose(ours[:, LABELS.index(label)], theirs[:, column])
    assert "neutral" in classes or np.allclose(ours[:, 1], 0)


def test_classifier_head_is_stored_without_pickle(tmp_path):
    head = ClassifierHead(np.zeros((1, 4)), np.zeros(1), ["negative", "positive"], {"version": "v"})
    head.save(tmp_path)
    assert json.loads((tmp_path / "model.json").read_text())["classes"] == ["negative", "positive"]
    assert np.load(tmp_path / "head.npz", allow_pickle=False)["coef"].shape == (1, 4)


def test_transformers_engine_loads_a_local_model_and_scores(tiny_transformer):
    engine = TransformersEngine(str(tiny_transformer), device="cpu", batch_size=2)
    scores = engine.score([*TEXTS, "word " * 500])  # the last one is longer than the model: truncated
    assert_valid_scores(scores, 4)
    assert engine.version.startswith(f"transformers:{tiny_transformer}@")
    assert engine.max_length == 128


def test_transformers_engine_bf16_on_cpu_is_a_different_version(tiny_transformer):
    plain = TransformersEngine(str(tiny_transformer), device="cpu")
    bf16 = TransformersEngine(str(tiny_transformer), device="cpu", bf16_on_cpu=True)
    assert_valid_scores(bf16.score(TEXTS), 3)
    assert bf16.version == plain.version + ":bf16"


def test_transformers_label_map_for_models_whose_labels_say_nothing(tmp_path):
    from mlds_assets_tests.tiny_models import build_tiny_transformer

    folder = build_tiny_transformer(tmp_path / "stars", labels=("1 star", "3 stars", "5 stars"))
    with pytest.raises(SentimentModelError, match="label_map"):
        TransformersEngine(str(folder), device="cpu")
    engine = TransformersEngine(
        str(folder), device="cpu", label_map={"1 star": "negative", "3 stars": "neutral", "5 stars": "positive"}
    )
    assert_valid_scores(engine.score(TEXTS), 3)


def test_uncached_hub_model_fails_fast_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(SentimentModelError, match="cardiffnlp/twitter-roberta-base-sentiment-latest"):
        TransformersEngine("cardiffnlp/twitter-roberta-base-sentiment-latest", device="cpu")


def test_fallback_engine_is_used_and_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    settings = SentimentSettings(engine="transformers", fallback_engine="vader")
    engine, why = load_engine(settings, tmp_path)
    assert engine.name == "vader"
    assert "could not be loaded" in why
    with pytest.raises(SentimentModelError):
        load_engine(SentimentSettings(engine="transformers"), tmp_path)


def test_custom_engine_by_module_path(tmp_path):
    engine = build_engine("mlds_assets_tests.sentiment_fixtures:CountingVader", SentimentSettings(), tmp_path)
    assert engine.version.startswith("vader:")
    with pytest.raises(SentimentModelError, match="could not be imported"):
        build_engine("no_such_module:Engine", SentimentSettings(), tmp_path)
    with pytest.raises(SentimentModelError, match="unknown sentiment engine"):
        build_engine("textblob", SentimentSettings(), tmp_path)


def test_embedding_classifier_without_a_trained_model_says_how_to_train(tmp_path):
    with pytest.raises(SentimentModelError, match="mlds train sentiment"):
        build_engine("embedding-classifier", SentimentSettings(), tmp_path)


def test_score_rows_records_engine_version_and_run():
    engine = VaderEngine()
    rows = pd.DataFrame({"post_id": ["a", "b"], "clean_text": ["great!", None]}, index=[7, 9])
    scored = score_rows(engine, version_tag(engine, "3"), rows, "run-1")
    assert scored["post_id"].tolist() == ["a", "b"]
    assert set(scored["engine"]) == {"vader"}
    assert set(scored["model_version"]) == {f"{engine.version}#3"}
    assert set(scored["run_id"]) == {"run-1"}
