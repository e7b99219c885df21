"""The fine-tuned MiniLM sentiment model: masking, the training path on a tiny slice, the shipped model loaded
through the real loading code (offline), calibration, and the recipe's seeded held-out splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlds_assets.core.sentiment import (
    LABELS,
    SCORE_COLUMNS,
    FinetunedEngine,
    MaskedEngine,
    Masker,
    VaderEngine,
    build_engine,
    load_engine,
)
from mlds_assets.core.sentiment_finetune import (
    META_FILE,
    SHIPPED_DIR,
    WEIGHTS_FILE,
    FinetuneConfig,
    MiniLMSentiment,
    finetune,
    fit_temperature,
    native_bf16,
    recipe_sets,
    softmax,
    split_rows,
)
from mlds_assets.core.sentiment_masking import mask_text
from mlds_assets.settings import SentimentSettings

ROWS = [
    ("I love it, best day ever", "positive"),
    ("so happy with this, amazing", "positive"),
    ("great service, thank you!", "positive"),
    ("I hate this, worst ever", "negative"),
    ("terrible and broken, so angry", "negative"),
    ("awful service, never again", "negative"),
    ("the shop opens at nine", "neutral"),
    ("the train leaves at ten", "neutral"),
    ("meeting moved to monday", "neutral"),
] * 4


def test_masking_handles_urls_aliases_and_entities_in_text():
    masker = Masker(["Best Buy", "iPad"])
    assert masker(["@jessedee my #iPad &amp; Best Buy http://t.co/x {link}"]) == ["@user my @user & @user http http"]
    assert mask_text("email me at a@b.com, see www.x.org") == "email me at a@b.com, see http"
    assert masker(["iPads and bestbuying stay"]) == ["iPads and bestbuying stay"]  # whole words only
    assert Masker(["a"]).digest != Masker(["b"]).digest


def test_a_brand_name_alone_scores_neutral_whatever_the_engine():
    """VADER reads "Best" as positive: masked, the brand's name alone is neutral (and its version says so)."""
    assert VaderEngine().score(["Best Buy"])["sentiment_label"][0] == "positive"
    masked, _ = load_engine(SentimentSettings(engine="vader"), SHIPPED_DIR, aliases=["Best Buy"])
    assert isinstance(masked, MaskedEngine) and "+mask:" in masked.version
    assert masked.score(["Best Buy", "@BestBuy"])["sentiment_label"].tolist() == ["neutral", "neutral"]
    shipped, _ = load_engine(SentimentSettings(), SHIPPED_DIR, aliases=["Best Buy", "Nike"])
    assert shipped.name == "minilm-finetuned"
    assert shipped.score(["Best Buy", "Nike", "@Nike"])["sentiment_label"].tolist() == ["neutral"] * 3


def test_the_shipped_model_loads_offline_and_scores(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    size = (SHIPPED_DIR / WEIGHTS_FILE).stat().st_size
    assert size < 12_000_000  # the fine-tuned layers and head, not a copy of the base model
    engine = build_engine("minilm-finetuned", SentimentSettings(), SHIPPED_DIR)
    meta = json.loads((SHIPPED_DIR / META_FILE).read_text())
    fast = "bf16" if native_bf16() else "int8"  # the default scoring path on this CPU
    assert engine.precision == fast
    assert engine.version == f"minilm-finetuned:{meta['weights_sha256'][:12]}:{fast}"
    texts = ["I love this, best service ever!", "Worst experience, totally broken and rude staff", "Opens at 9", ""]
    scores = engine.score(texts)
    assert list(scores.columns) == SCORE_COLUMNS and len(scores) == 4
    assert scores["sentiment_label"][:3].tolist() == ["positive", "negative", "neutral"]
    assert scores["sentiment_score"].between(-1, 1).all()
    probabilities = scores[["prob_negative", "prob_neutral", "prob_positive"]].to_numpy()
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert np.allclose(scores["sentiment_confidence"], probabilities.max(1))
    assert 0.2 < meta["temperature"] < 5
    # length-bucketed batches keep the order; in bf16 or int8 (activations scaled per batch) a text's
    # probabilities move only slightly with what else is in its batch, and not at all in fp32
    alone = engine.score([texts[1]])
    assert np.allclose(alone["prob_negative"][0], scores["prob_negative"][1], atol=0.05)
    fp32 = build_engine("minilm-finetuned", SentimentSettings(precision="fp32"), SHIPPED_DIR)
    assert fp32.version == f"minilm-finetuned:{meta['weights_sha256'][:12]}"
    together, alone = fp32.score(texts), fp32.score([texts[1]])
    assert np.allclose(alone["prob_negative"][0], together["prob_negative"][1], atol=1e-5)


# A fixed sample of tweet-like texts, all three classes, short and long: the default (int8) scoring path
# must give fp32's labels on nearly all of them.
AGREEMENT_SAMPLE = [
    "I love my new phone, the camera is amazing!",
    "Worst customer service ever. Waited 2 hours and nobody called back.",
    "The store opens at 9am on Saturdays.",
    "@user thanks so much for the quick reply, problem solved :)",
    "@user my order still hasn't arrived and tracking says nothing. Really annoyed.",
    "Is the new update out yet?",
    "Just watched the game, what a comeback!! So proud of this team",
    "Flight delayed again. Third time this month. Never flying with them again",
    "Meeting moved to Tuesday afternoon",
    "This coffee is honestly perfect, best way to start the day",
    "The app keeps crashing every time I open it, useless",
    "Reading the news about the election results tonight",
    "Happy birthday to my best friend! Have a wonderful day",
    "I can't believe they cancelled my favourite show. So disappointed.",
    "The conference starts tomorrow at the convention center http",
    "Great concert last night, the band was incredible",
    "My laptop died in the middle of my presentation. Terrible timing.",
    "New episode comes out on Friday",
    "Thank you all for the support, it means the world to me",
    "The food was cold and the waiter was rude. Not going back.",
    "Traffic on the highway this morning, leave early",
    "Finally got tickets for the festival!! Can't wait",
    "Lost my wallet on the bus today, worst day",
    "The price of the new model will be announced next week",
    "Such a beautiful sunset tonight, feeling grateful",
    "Why is the internet so slow today, this is ridiculous",
    "Weather forecast says rain on Sunday",
    "Our team won the championship! Best season ever",
    "My package was damaged and they refuse to refund. Awful.",
    "Tomorrow is the last day to register for the course",
    "Loving the new features in this version, great job @user",
    "Been on hold for 45 minutes. This is unacceptable.",
    "The museum has a new exhibition on ancient Egypt",
    "Had a lovely dinner with family tonight",
    "Battery drains in an hour after the update. Fix this please",
    "Apparently the store is moving to a new location in May",
    "So excited to start my new job on Monday!",
    "They charged me twice and customer support hung up on me",
    "The game will be broadcast live at 8pm",
    "What a fantastic performance, bravo to the whole cast",
    "I hate Mondays, everything went wrong today",
    "Check out the schedule for next week's workshops http",
    "Best pizza in town, highly recommend",
    "Still no power after the storm, three days now. Frustrated",
    "The report is due at the end of the month",
    "Thanks for the birthday wishes everyone, feeling loved",
    "Terrible movie, I walked out after 30 minutes",
    "@user what time does the shop close on Sunday?",
]


def test_the_fast_scoring_paths_give_fp32_labels_on_nearly_every_text():
    """Every path loads the shipped model through the real loading code (build_engine, as the asset does);
    bf16 and int8 change labels only where fp32 is nearly undecided, and the default is one of them."""
    fp32 = build_engine("minilm-finetuned", SentimentSettings(precision="fp32"), SHIPPED_DIR)
    exact = fp32.score(AGREEMENT_SAMPLE)
    assert set(exact["sentiment_label"]) == set(LABELS)  # the sample spans every class
    default = build_engine("minilm-finetuned", SentimentSettings(), SHIPPED_DIR)
    assert default.precision == ("bf16" if native_bf16() else "int8") and default.version != fp32.version
    for precision in ("bf16", "int8"):
        engine = build_engine("minilm-finetuned", SentimentSettings(precision=precision), SHIPPED_DIR)
        assert engine.precision == precision and engine.version.endswith(f":{precision}")
        fast = engine.score(AGREEMENT_SAMPLE)
        agree = (fast["sentiment_label"] == exact["sentiment_label"]).mean()
        assert agree >= 0.9, f"{precision} agrees with fp32 on only {agree:.0%} of the sample"
        assert np.abs(fast["sentiment_score"] - exact["sentiment_score"]).mean() < 0.1


def test_a_missing_finetuned_model_says_how_to_train(tmp_path):
    with pytest.raises(Exception, match="mlds train sentiment --method finetune"):
        FinetunedEngine(tmp_path)


def test_temperature_scaling_undoes_overconfidence():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 3000)
    logits = rng.normal(size=(3000, 3))
    logits[np.arange(3000), labels] += 1.0  # a weak signal ...
    temperature = fit_temperature(logits * 4, labels)  # ... made overconfident 4x
    assert 3.0 < temperature < 5.0
    assert np.allclose(softmax(np.array([[1.0, 2.0, 3.0]])).sum(), 1.0)


def test_split_rows_is_seeded_stratified_and_disjoint():
    rows = [(f"text {i}", LABELS[i % 3]) for i in range(300)] + [("text 0", "negative")]  # a duplicate text
    train, val, test = split_rows(rows, seed=16)
    assert (len(train), len(val), len(test)) == (210, 30, 60)
    texts = [set(t for t, _ in part) for part in (train, val, test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert split_rows(rows, seed=16) == (train, val, test)
    assert {label for _, label in test} == set(LABELS)


def test_finetune_on_a_tiny_slice_saves_reloads_and_continues(tiny_transformer, tmp_path):
    """The training path end to end on a tiny random BERT: trained layers and head saved small, reloaded
    identically (fp16), and continued from (domain adaptation) rather than started over."""
    config = FinetuneConfig(top_layers=1, max_length=16, epochs=2, batch_size=8, threads=1)
    lines = []
    model, info = finetune(ROWS, {"val": ROWS[:9]}, config, base_dir=str(tiny_transformer), log=lines.append)
    assert info["train_rows"] == len(ROWS) and info["best_epoch"] in (1, 2)
    assert any("epoch 1/2 step" in line for line in lines) and any("validation macro-F1" in line for line in lines)
    folder = model.save(tmp_path / "m", {"engine": "minilm-finetuned"})
    saved = json.loads((folder / META_FILE).read_text())
    assert saved["top_layers"] == 1 and saved["temperature"] == model.temperature
    from safetensors.torch import load_file

    keys = set(load_file(str(folder / WEIGHTS_FILE)))
    assert keys and all(k.startswith("layer.1.") or k.startswith("head.") for k in keys)  # the top layer only

    reloaded, _ = MiniLMSentiment.load(folder, base_dir=str(tiny_transformer))
    texts = [t for t, _ in ROWS[:9]]
    assert np.allclose(reloaded.probabilities(texts), model.probabilities(texts), atol=2e-2)

    more, _ = finetune(ROWS[:9], {}, FinetuneConfig(epochs=1, batch_size=4, threads=1), base_dir=str(tiny_transformer),
                       init_from=folder, log=lines.append)  # fmt: skip
    assert more.top_layers == 1  # continued from the saved model's layers, whatever the config said
    changed = more.head.weight.detach().numpy() - reloaded.head.weight.detach().numpy()
    assert 0 < np.abs(changed).max() < 1.0


def test_recipe_splits_follow_each_sets_quirks(shared_data):
    tweeteval, brands, s140 = recipe_sets(shared_data)
    assert len(tweeteval.train) + len(tweeteval.val) + len(tweeteval.test) > 14_000
    assert {label for _, label in brands.train} == set(LABELS)  # "No emotion toward ..." is neutral
    assert not any(t == "nan" for t, _ in brands.train)
    assert len(s140.test) == 498 and not s140.train  # held out entirely
    train_texts = {t for t, _ in tweeteval.train}
    assert not train_texts & {t for t, _ in tweeteval.test}
