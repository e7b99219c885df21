"""The HTML report's detail (issue 19 item 6): per-platform topics with sentiment, share of voice to the
configured top N, sentiment per entity over time."""

from __future__ import annotations

import pandas as pd

from mlds_assets.core.analytics import CROSS_PLATFORM
from mlds_assets.core.report import entity_weekly_sentiment, report_html


def metrics(scope: str, rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["metric", "key", "value"])
    return frame.assign(scope=scope, processing_level="full", sentiment_coverage=1.0, semantic_coverage=1.0)


def test_report_shows_each_platforms_topics_top_n_voice_and_entity_sentiment_over_time():
    brands = [f"brand{i}" for i in range(8)]
    care = metrics(
        "care",
        [("posts", "", 100.0)]
        + [("share_of_voice", b, 0.3 - i * 0.03) for i, b in enumerate(brands)]
        + [("topic_posts", "lost, bag, luggage", 40.0), ("topic_posts", "refund, money, back", 25.0)]
        + [("topic_sentiment_mean", "lost, bag, luggage", -0.6), ("topic_sentiment_mean", "refund, money, back", -0.2)],
    )
    cross = metrics(
        CROSS_PLATFORM,
        [("posts", "", 100.0)]
        + [("share_of_voice", b, 0.3 - i * 0.03) for i, b in enumerate(brands)]
        + [
            ("entity_sentiment_weekly", "brand0|2026-11-02", 0.1),
            ("entity_sentiment_weekly", "brand0|2026-11-09", -0.4),
        ]
        + [("entity_sentiment_weekly", "brand1|2026-11-02", 0.3), ("entity_sentiment_weekly", "other|2026-11-02", 0.9)],
    )  # no cross-platform topics: only one platform was fitted
    html = report_html({"care": care}, cross, pd.Timestamp("2026-11-30", tz="UTC"), top=7)
    assert '<table class="topics" data-scope="care">' in html and "lost, bag, luggage" in html
    assert "<td>-0.60</td>" in html  # the topic's mean sentiment
    assert "brand6" in html and "brand7" not in html  # share of voice to the configured top N, not a fixed 5
    assert "Mean sentiment per entity per week" in html
    lines = entity_weekly_sentiment(cross, ["brand0", "brand1"])
    assert lines == {"brand0": [("2026-11-02", 0.1), ("2026-11-09", -0.4)], "brand1": [("2026-11-02", 0.3)]}
