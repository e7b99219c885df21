"""basic_metrics on a batch run through the real phase-1 steps, checked against direct pandas sums."""

from __future__ import annotations

import pandas as pd
import pytest

from mlds_assets.core.cleaning import clean_posts
from mlds_assets.core.entities import Entity, EntityDictionary, extract_conservative_entities
from mlds_assets.core.mapping import map_batch
from mlds_assets.core.metrics import METRIC_COLUMNS, basic_metrics, metric_value
from mlds_assets.core.readers import SOURCE_ROW, ReadResult
from mlds_assets.settings import ConfidenceSettings, IngestionSettings, PlatformConfig

NOW = pd.Timestamp("2024-06-01T00:00:00Z")
PLATFORM = PlatformConfig.model_validate(
    {
        "name": "demo",
        "fields": {
            "native_id": "id", "text": "body", "author": "user", "created_at": "when",
            "parent_id": "reply_to", "likes": "likes", "comments": "comments", "shares": "shares",
        },
        "created_at": {"format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"},
    }
)  # fmt: skip
TABLE = EntityDictionary.from_entities(
    [Entity("nike", "Nike", aliases=("Nike",), hashtags=("nike",)), Entity("apple", "Apple", handles=("apple",))]
)
ROWS = [
    # id, body, user, when, reply_to, likes, comments, shares
    ("1", "Nike shoes are great, really great ones", "ann", "2024-01-01 09:00:00", "", "10", "2", "1"),
    ("2", "Nike shoes are GREAT, really great ones!", "bob", "2024-01-01 23:59:59", "1", "5", "", ""),
    ("3", "talking to @apple about Nike #nike", "ann", "2024-01-02 00:00:00", "", "", "", ""),
    ("4", "nothing here", "cy", "2024-01-03 12:00:00", "", "1", "0", "0"),
    ("5", "", "dee", "2024-01-03 12:00:00", "", "", "", ""),  # quarantined: no text
    ("6", "bad count", "eve", "2024-01-03 12:00:00", "", "-1", "", ""),  # quarantined: negative count
    ("1", "duplicate id", "ann", "2024-01-04 12:00:00", "", "", "", ""),  # quarantined: duplicate
]


@pytest.fixture(scope="module")
def batch():
    columns = ["id", "body", "user", "when", "reply_to", "likes", "comments", "shares"]
    records = pd.DataFrame(ROWS, columns=columns, dtype=object)
    records[SOURCE_ROW] = range(1, len(ROWS) + 1)
    read = ReadResult(records, pd.DataFrame({SOURCE_ROW: [], "reason": [], "raw_record": []}), len(ROWS))
    mapped = map_batch(read, PLATFORM, "b1", "x.csv", IngestionSettings(), now=NOW)
    cleaned = clean_posts(mapped.posts, near_duplicate_min_chars=20)
    entities, _ = extract_conservative_entities(cleaned, TABLE, PLATFORM, ConfidenceSettings(), 0.8)
    metrics = basic_metrics(cleaned, entities, len(mapped.quarantine), "demo", "b1", top_n=10, now=NOW)
    return mapped, cleaned, entities, metrics


def test_shape_and_level(batch):
    *_, metrics = batch
    assert list(metrics.columns) == list(METRIC_COLUMNS)
    assert (metrics["processing_level"] == "basic").all()
    assert (metrics["platform"] == "demo").all() and (metrics["batch_id"] == "b1").all()
    assert (metrics["computed_at"] == NOW).all()
    assert metrics["value"].dtype == "float64"
    assert not metrics.duplicated(["metric", "key"]).any()


def test_counts_and_quarantine_rate(batch):
    mapped, cleaned, _, metrics = batch
    assert len(cleaned) == 4 and len(mapped.quarantine) == 3  # the fixture is what the test thinks it is
    assert metric_value(metrics, "posts") == len(cleaned)
    assert metric_value(metrics, "rows_in") == mapped.rows_in == len(ROWS)
    assert metric_value(metrics, "quarantined") == len(mapped.quarantine)
    assert metric_value(metrics, "quarantine_rate") == pytest.approx(3 / 7)
    assert metric_value(metrics, "authors") == cleaned["author"].nunique() == 3
    assert metric_value(metrics, "replies") == cleaned["parent_id"].notna().sum() == 1
    assert metric_value(metrics, "near_duplicates") == cleaned["near_duplicate_of"].notna().sum() == 1


def test_engagement(batch):
    _, cleaned, _, metrics = batch
    assert metric_value(metrics, "likes_total") == cleaned["likes"].sum() == 16
    assert metric_value(metrics, "comments_total") == cleaned["comments"].sum() == 2
    assert metric_value(metrics, "shares_total") == 1
    assert metric_value(metrics, "views_total") is None  # the export has no views at all
    per_post = cleaned[["likes", "comments", "shares"]].sum(axis=1, min_count=1)
    assert metric_value(metrics, "engagement_per_post") == pytest.approx(per_post.mean())
    assert metric_value(metrics, "engagement_per_post") == pytest.approx((13 + 5 + 1) / 3)  # post 3 has none


def test_volume_daily_per_utc_day(batch):
    _, cleaned, _, metrics = batch
    daily = metrics[metrics["metric"] == "volume_daily"].set_index("key")["value"].to_dict()
    expected = cleaned["created_at"].dt.strftime("%Y-%m-%d").value_counts().to_dict()
    assert daily == {k: float(v) for k, v in expected.items()}
    assert daily == {"2024-01-01": 2.0, "2024-01-02": 1.0, "2024-01-03": 1.0}
    assert sum(daily.values()) == len(cleaned)
    engagement = metrics[metrics["metric"] == "engagement_daily"].set_index("key")["value"].to_dict()
    assert engagement == {"2024-01-01": 18.0, "2024-01-02": 0.0, "2024-01-03": 1.0}


def test_top_entities_count_posts_not_hits(batch):
    _, cleaned, entities, metrics = batch
    # post 3 mentions Nike twice (alias and hashtag): one post
    assert sorted(entities.loc[entities["entity_id"] == "nike", "post_id"].value_counts().tolist()) == [1, 1, 2]
    top = metrics[metrics["metric"] == "top_entity_posts"].set_index("key")["value"].to_dict()
    expected = entities.drop_duplicates(["post_id", "entity_id"]).groupby("entity_name")["post_id"].nunique()
    assert top == {k: float(v) for k, v in expected.items()}
    assert top == {"Nike": 3.0, "Apple": 1.0}
    assert list(top) == ["Nike", "Apple"]  # most mentioned first
    assert metric_value(metrics, "entity_coverage") == pytest.approx(entities["post_id"].nunique() / len(cleaned))
    assert metric_value(metrics, "entity_coverage") == pytest.approx(3 / 4)


def test_top_n_limits_entities(batch):
    mapped, cleaned, entities, _ = batch
    metrics = basic_metrics(cleaned, entities, len(mapped.quarantine), "demo", "b1", top_n=1, now=NOW)
    assert metrics.loc[metrics["metric"] == "top_entity_posts", "key"].tolist() == ["Nike"]


def test_empty_batch():
    mapped = map_batch(
        ReadResult(
            pd.DataFrame({c: [] for c in ["id", "body", "user", "when", SOURCE_ROW]}),
            pd.DataFrame({SOURCE_ROW: [], "reason": [], "raw_record": []}),
            0,
        ),
        PLATFORM,
        "b0",
        "empty.csv",
        IngestionSettings(),
        now=NOW,
    )
    cleaned = clean_posts(mapped.posts)
    entities, _ = extract_conservative_entities(cleaned, TABLE, PLATFORM, ConfidenceSettings(), 0.8)
    metrics = basic_metrics(cleaned, entities, 0, "demo", "b0", now=NOW)
    assert metric_value(metrics, "posts") == 0
    assert metric_value(metrics, "quarantine_rate") == 0.0
    assert metrics[metrics["metric"] == "volume_daily"].empty
    assert metric_value(metrics, "nope") is None


def test_sentiment_raises_the_level_and_adds_its_numbers(batch):
    mapped, cleaned, entities, _ = batch
    ids = cleaned["post_id"].tolist()
    sentiment = pd.DataFrame(
        {
            "post_id": ids[:3],  # the fourth post is not scored yet
            "sentiment_label": ["positive", "positive", "negative"],
            "sentiment_score": [0.8, 0.6, -0.5],
        }
    )
    metrics = basic_metrics(cleaned, entities, len(mapped.quarantine), "demo", "b1", now=NOW, sentiment=sentiment)
    assert set(metrics["processing_level"]) == {"basic"}  # 3 of 4 scored: the numbers are not final yet
    assert metric_value(metrics, "sentiment_coverage") == 0.75
    assert metric_value(metrics, "sentiment_mean") == pytest.approx(0.3)
    assert metric_value(metrics, "sentiment_share", "positive") == pytest.approx(2 / 3)
    assert metric_value(metrics, "sentiment_share", "neutral") == 0.0
    daily = metrics[metrics["metric"] == "sentiment_daily_mean"].set_index("key")["value"]
    assert daily.to_dict() == pytest.approx({"2024-01-01": 0.7, "2024-01-02": -0.5})


def test_vectors_and_topics_add_semantic_numbers_and_full_needs_both_phases(batch):
    _, cleaned, entities, _ = batch
    ids = cleaned["post_id"].tolist()
    scored = pd.DataFrame({"post_id": ids, "sentiment_label": "neutral", "sentiment_score": 0.0})
    some = pd.DataFrame({"post_id": ids[:2]})
    topics = pd.DataFrame(
        {"post_id": [*ids, "other-batch"], "topic_id": [0, 0, 1, -1, 0], "label": ["a", "a", "b", "outliers", "a"]}
    )
    half = basic_metrics(cleaned, entities, 0, "demo", "b1", now=NOW, sentiment=scored, embedded=some, topics=topics)
    assert set(half["processing_level"]) == {"sentiment_complete"}  # vectors for half the posts: not full
    assert metric_value(half, "semantic_coverage") == 0.5
    assert metric_value(half, "topic_posts", "a") == 2 and metric_value(half, "topic_posts", "b") == 1
    assert metric_value(half, "topic_posts", "outliers") is None  # -1 is no topic
    assert metric_value(half, "topic_coverage") == 0.75

    every = pd.DataFrame({"post_id": ids})
    full = basic_metrics(cleaned, entities, 0, "demo", "b1", now=NOW, sentiment=scored, embedded=every)
    assert set(full["processing_level"]) == {"full"} and metric_value(full, "semantic_coverage") == 1.0
    unscored = basic_metrics(cleaned, entities, 0, "demo", "b1", now=NOW, embedded=every)
    assert set(unscored["processing_level"]) == {"basic"}  # vectors without sentiment stay basic
