"""The real public datasets in ../shared/data ingest through platform YAMLs written for them, every row
accounted for. Skipped with the reason where the folder is absent (a user's clone)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlds_assets.service.ingest import ingest
from mlds_assets.service.status import status
from mlds_assets.settings import load_settings
from mlds_assets_tests.conftest import write_platform

PLATFORMS = {
    "nyt_facebook": """
name: nyt_facebook
fields: {native_id: status_id, text: [status_message, link_name], created_at: status_published, url: status_link,
         likes: num_likes, comments: num_comments, shares: num_shares}
created_at: {format: "%Y-%m-%d %H:%M:%S", timezone: "-05:00"}
""",
    "twcs": """
name: twcs
fields: {native_id: tweet_id, text: text, author: author_id, created_at: created_at,
         parent_id: in_response_to_tweet_id}
created_at: {format: "%a %b %d %H:%M:%S %z %Y"}
labels: [{column: author_id, known_only: true}]
""",
    "brand_emotion": """
name: brand_emotion
fields: {text: tweet_text}              # no id, no date: ids come from the content
labels: [{column: emotion_in_tweet_is_directed_at}]
required: [native_id, text]
""",
    "sentiment140": """
name: sentiment140
read: {header: false, names: [polarity, id, date, query, user, text]}
fields: {native_id: id, text: text, author: user, created_at: date}
created_at: {format: "%a %b %d %H:%M:%S UTC %Y"}
labels: [{column: query}]
""",
}
FILES = {
    "nyt_facebook": ("nytimes_facebook_posts/nytimes_facebook_statuses.csv", 8800),
    "twcs": ("twcs_sample/twcs_head5000.csv", 5000),
    "brand_emotion": ("brand_product_emotion/judge-1377884607_tweet_product_company.csv", 9093),
    "sentiment140": ("sentiment140_test/testdata.manual.2009.06.14.csv", 498),
}


@pytest.fixture
def real_settings(tmp_path, config_dir):
    for name, body in PLATFORMS.items():
        write_platform(config_dir, name, body)
    return load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / "home")})


@pytest.mark.shared_data
@pytest.mark.parametrize("platform", list(FILES))
def test_real_file_ingests_with_every_row_accounted_for(platform, real_settings, instance, shared_data):
    relative, rows_in = FILES[platform]
    outcome = ingest(real_settings, shared_data / relative, platform, instance)

    assert outcome["status"] == "ok", outcome
    lake = Path(real_settings.lake_base) / platform
    raw = pd.read_parquet(lake / "raw_posts" / f"{outcome['batch']}.parquet")
    quarantine = pd.read_parquet(lake / "quarantine" / f"{outcome['batch']}.parquet")
    assert len(raw) + len(quarantine) == rows_in
    assert set(raw["source_row"]).isdisjoint(quarantine["source_row"])
    assert quarantine["reason"].str.len().gt(0).all()
    report = status(real_settings, instance)["platforms"][platform]
    assert report["posts"] == len(raw) and report["quarantined"] == len(quarantine)


@pytest.mark.shared_data
def test_real_file_quirks(real_settings, instance, shared_data):
    """The quirks SOURCE.txt warns about are handled, not papered over."""
    results = {p: ingest(real_settings, shared_data / FILES[p][0], p, instance) for p in ("twcs", "brand_emotion")}
    lake = Path(real_settings.lake_base)

    twcs = pd.read_parquet(lake / "twcs" / "raw_posts" / f"{results['twcs']['batch']}.parquet")
    assert not twcs["parent_id"].dropna().str.endswith(".0").any()  # "3.0" ids are ints again
    replies = twcs.dropna(subset=["parent_post_id"])
    assert replies["parent_post_id"].isin(twcs["post_id"]).mean() > 0.99  # threads reconstruct
    assert twcs["text"].str.contains("\r").sum() == 1  # the one bare CR stays inside its tweet

    brand_q = pd.read_parquet(lake / "brand_emotion" / "quarantine" / f"{results['brand_emotion']['batch']}.parquet")
    assert (brand_q["field"] == "text").sum() == 1  # the one null tweet
    assert (brand_q["field"] == "native_id").sum() == 22  # fully duplicated rows collapse onto one id
    entities = pd.read_parquet(
        lake / "brand_emotion" / "conservative_entities" / f"{results['brand_emotion']['batch']}.parquet"
    )
    labelled = entities[entities["method"] == "label"]
    assert {"ipad", "apple", "google", "iphone", "android"} <= set(labelled["entity_id"])


def test_vader_on_the_sentiment140_gold_set(shared_data):
    """The figure the README reports for VADER, measured on the real hand-labelled tweets."""
    from mlds_assets.core.sentiment import VaderEngine
    from mlds_assets.core.sentiment_training import evaluate
    from mlds_assets.service.models import read_gold

    gold = read_gold(shared_data / FILES["sentiment140"][0], "5", "0", None, no_header=True)
    report = evaluate(VaderEngine(), gold)
    assert report["rows"] == 498 and report["gold_labels"] == {"negative": 177, "neutral": 139, "positive": 182}
    assert 0.65 <= report["macro_f1"] <= 0.8  # 0.718 when measured; far from chance (0.33)


BRAND_TARGETS = (
    "iPad or iPhone App=ipad|iphone,Other Google product or service=google,"
    "Other Apple product or service=apple,Android App=android"
)


def test_entity_resolution_on_brand_emotion_targets(shared_data):
    """Issue 5's acceptance figure: resolution accuracy on the posts whose target is named."""
    from mlds_assets.service.models import eval_entities
    from mlds_assets.settings import load_settings

    dictionary = Path(__file__).parent / "fixtures" / "brand_emotion_entities.yaml"
    report = eval_entities(
        load_settings(), shared_data / FILES["brand_emotion"][0], "tweet_text", "emotion_in_tweet_is_directed_at",
        BRAND_TARGETS, False, dictionary,
    )  # fmt: skip
    assert report["posts"] == 9093 and report["posts_with_target"] == 3291
    assert report["resolution_accuracy"] > 0.9  # 0.98 when measured
    assert report["resolved_recall"] >= report["conservative_recall"]


@pytest.mark.shared_data
def test_topics_and_semantic_search_on_facebook_page_posts_and_customer_care(
    real_settings, instance, shared_data, tmp_path
):
    """The acceptance case of the embeddings issue: topics on both real datasets, coherence above the gate,
    and a query whose word no post uses ("broadband") found by meaning where keyword search finds nothing."""
    from mlds_assets.service.enrich import enrich
    from mlds_assets.service.store import search

    # The page posts' newest 4,000 (Aug-Nov 2015): embedding is most of this test's time (MiniLM at 1.4k tokens/s
    # on a 2-core CI machine). On this slice the outlier share is 15.7%; the whole 8,800 (9.0%) are held to the
    # issue's three targets in `make bench` (docs/search-and-topics.md); the customer-care threads are held to
    # them here, whole.
    pages = tmp_path / "nyt_newest_4000.csv"
    pd.read_csv(shared_data / FILES["nyt_facebook"][0], dtype=str, keep_default_na=False).head(4000).to_csv(
        pages, index=False
    )
    for platform, export in (("nyt_facebook", pages), ("twcs", shared_data / FILES["twcs"][0])):
        assert ingest(real_settings, export, platform, instance)["status"] == "ok"
        embedded = enrich(real_settings, "embeddings", platform, instance)
        assert [o["status"] for o in embedded] == ["ok"], embedded
        [fitted, *_] = enrich(real_settings, "topics", platform, instance)
        assert fitted["status"] == "ok" and fitted["checks_failed"] == [], fitted
        topics = pd.read_parquet(Path(real_settings.lake_base) / platform / "topics.parquet")
        real = topics[topics["topic_id"] >= 0]
        assert len(real) >= 3
        assert real["coherence"].mean() > real_settings.topics.coherence_threshold
        assert topics["size"].sum() == status(real_settings, instance)["platforms"][platform]["posts"]
        # issue 19 item 5: a readable number of topics, few outliers, no brand words
        posts = topics["size"].sum()
        assert len(real) * 10_000 / posts <= 50.5
        outliers = topics.loc[topics["topic_id"] < 0, "size"].sum() / posts
        coherence = real["coherence"].mean()
        print(f"{platform}: {len(real)} topics in {posts} posts, {outliers:.1%} outliers, c_v {coherence:.3f}")
        if platform == "twcs":  # the whole set: the targets (0.9% outliers, c_v 0.533 on 2026-12-02)
            assert outliers <= 0.15
            assert coherence >= 0.5
        brands = {"comcastcares", "applesupport", "amazonhelp", "delta", "uber", "spotify", "chipotle", "nytimes"}
        assert not brands & {w for words in real["top_words"] for w in list(words)[:3]}

    assert len(search(real_settings, "broadband", platform="twcs", mode="keyword")) == 0
    hits = search(real_settings, "broadband", platform="twcs", mode="semantic", limit=10)
    about_internet = hits["text"].str.contains(r"internet|modem|wi-?fi|connection|outage", case=False)
    assert about_internet.sum() >= 7, hits["text"].tolist()
    hybrid = search(real_settings, "broadband", platform="twcs", mode="hybrid", limit=10)
    assert hybrid["text"].str.contains(r"internet|modem|wi-?fi|connection|outage", case=False).sum() >= 7


@pytest.mark.shared_data
def test_the_shipped_sentiment_model_beats_vader_on_held_out_sentiment140(shared_data):
    """sentiment140_test is never trained on: the shipped model against VADER on all of it, both masked as
    in production (the model card has the figures on every held-out set)."""
    from mlds_assets.core.sentiment import FinetunedEngine, MaskedEngine, Masker, VaderEngine
    from mlds_assets.core.sentiment_finetune import RECIPE_ALIASES, load_sentiment140_test
    from mlds_assets.core.sentiment_training import GoldSet, evaluate

    rows = load_sentiment140_test(shared_data / "sentiment140_test").test
    gold = GoldSet([t for t, _ in rows], [label for _, label in rows], {}, "sentiment140_test")
    masker = Masker(RECIPE_ALIASES)
    shipped = evaluate(MaskedEngine(FinetunedEngine(), masker), gold)
    vader = evaluate(MaskedEngine(VaderEngine(), masker), gold)
    assert shipped["rows"] == 498
    assert shipped["macro_f1"] > vader["macro_f1"]


@pytest.mark.shared_data
def test_a_wrong_date_format_on_real_tweets_fails_the_ingest_with_its_reasons(
    tmp_path, config_dir, instance, shared_data
):
    """Issue 19 item 8 on twcs: `created_at.format` written for another export quarantines every row; the
    quarantine_rate gate fails the run and the outcome says why; after the fix the same file ingests."""
    write_platform(config_dir, "twcs", PLATFORMS["twcs"].replace("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M:%S"))
    wrong = load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / "home")})
    outcome = ingest(wrong, shared_data / FILES["twcs"][0], "twcs", instance)
    assert outcome["status"] != "ok" and outcome["rows"] == {"in": 5000, "kept": 0, "quarantined": 5000}
    [top] = outcome["top_quarantine_reasons"]
    assert top["rows"] == 5000 and top["reason"].startswith("created_at") and "%Y-%m-%d %H:%M:%S" in top["reason"]
    write_platform(config_dir, "twcs", PLATFORMS["twcs"])
    fixed = load_settings(config_dir, env={"MLDS_HOME": str(tmp_path / "home")})
    assert ingest(fixed, shared_data / FILES["twcs"][0], "twcs", instance)["status"] == "ok"


@pytest.mark.shared_data
def test_review_queue_on_real_customer_tweets_is_grouped_filtered_and_ranked(shared_data):
    """Issue 19 item 2 on twcs: one item per normalised surface, nothing that cannot be a brand or product,
    no place-only items, most posts first, and far fewer items than unresolved (surface, label) pairs."""
    from mlds_assets.core.cleaning import clean_posts
    from mlds_assets.core.enhanced_entities import extract_enhanced_entities, load_ner, model_version
    from mlds_assets.core.entities import EntityDictionary, extract_conservative_entities
    from mlds_assets.core.entity_eval import _GOLD_PLATFORM
    from mlds_assets.core.resolution import cannot_be_a_name, normalise_name, resolve

    settings = load_settings()
    table = EntityDictionary.load(settings.entity_dictionary_path)
    texts = pd.read_csv(shared_data / FILES["twcs"][0], dtype=str)["text"].fillna("").head(2000)
    posts = pd.DataFrame({"post_id": [f"t{i}" for i in range(len(texts))], "text": texts.tolist()})
    posts[["platform", "batch_id", "labels"]] = ["twcs", "b", "{}"]
    cleaned = clean_posts(posts)
    entities, resolution = settings.entities, settings.entities.resolution
    conservative, _ = extract_conservative_entities(
        cleaned, table, _GOLD_PLATFORM, entities.confidence, entities.confidence_threshold
    )
    nlp = load_ner(entities.enhanced.model, table)
    found = extract_enhanced_entities(cleaned[["post_id", "clean_text"]], nlp, model_version(nlp, table))
    result = resolve(
        conservative, found.assign(platform="twcs"), table, {}, resolution.fuzzy_threshold,
        resolution.discovery_confidence, resolution.review_skip_labels, resolution.review_min_posts,
    )  # fmt: skip
    queue, mentions = result.review, result.mentions
    assert len(queue) and queue["surface"].map(normalise_name).is_unique
    assert not queue["surface"].map(cannot_be_a_name).any()
    assert not queue["label"].map(lambda labels: set(labels.split(", ")) <= {"GPE", "FAC", "LOC"}).any()
    assert queue["posts"].is_monotonic_decreasing and queue["posts"].min() >= 2
    unresolved = mentions[mentions["link"].isin(["review", "filtered", "rare"])]
    per_label = unresolved.assign(key=unresolved["surface"].map(normalise_name))[["key", "label"]].drop_duplicates()
    assert len(queue) * 4 < len(per_label)  # what main's resolver queued, about, one item per (surface, label)
