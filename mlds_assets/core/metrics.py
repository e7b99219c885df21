"""Basic metrics for one batch, in a long (metric, key, value) table that stacks across batches.

`processing_level` says what the numbers rest on: `basic` until every post of the batch has sentiment
(phase 1 alone, or partly scored), then `sentiment_complete`, and `full` once every post also has its
vector; so early numbers are never mistaken for final ones. The daily analytics use the same rule.
Semantic rows (coverage, and the batch's posts per topic) appear as embeddings and topics arrive.
"""

from __future__ import annotations

import pandas as pd

from mlds_assets.core.schema import BATCH_METRIC_COLUMNS, ENGAGEMENT_COLUMNS

LEVELS = ("basic", "sentiment_complete", "full")


def processing_level(sentiment_coverage: float, semantic_coverage: float) -> str:
    if sentiment_coverage >= 1.0 and semantic_coverage >= 1.0:
        return "full"
    if sentiment_coverage >= 1.0:
        return "sentiment_complete"
    return "basic"


METRIC_COLUMNS = tuple(BATCH_METRIC_COLUMNS)


def basic_metrics(
    cleaned: pd.DataFrame,
    entities: pd.DataFrame,
    quarantined: int,
    platform: str,
    batch_id: str,
    top_n: int = 10,
    now: pd.Timestamp | None = None,
    sentiment: pd.DataFrame | None = None,
    embedded: pd.DataFrame | None = None,
    topics: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`embedded`: the batch's post_ids with a vector; `topics`: (post_id, topic_id, label) assignments."""
    rows: list[tuple[str, str, float]] = []
    posts = len(cleaned)
    rows_in = posts + quarantined
    rows += [
        ("posts", "", posts),
        ("rows_in", "", rows_in),
        ("quarantined", "", quarantined),
        ("quarantine_rate", "", quarantined / rows_in if rows_in else 0.0),
        ("near_duplicates", "", int(cleaned["near_duplicate_of"].notna().sum())),
        ("authors", "", int(cleaned["author"].nunique())),
        ("replies", "", int(cleaned["parent_id"].notna().sum())),
    ]
    for column in ENGAGEMENT_COLUMNS:
        if cleaned[column].notna().any():
            rows.append((f"{column}_total", "", int(cleaned[column].sum())))
    engagement = cleaned[["likes", "comments", "shares"]].sum(axis=1, min_count=1)
    if engagement.notna().any():
        rows.append(("engagement_per_post", "", float(engagement.mean())))
    if cleaned["created_at"].notna().any():
        day = cleaned["created_at"].dt.floor("D")  # format the few distinct days, not every timestamp
        rows += [("volume_daily", f"{d:%Y-%m-%d}", n) for d, n in day.value_counts().sort_index().items()]
        if engagement.notna().any():
            rows += [("engagement_daily", f"{d:%Y-%m-%d}", float(v)) for d, v in engagement.groupby(day).sum().items()]
    if len(entities):
        mentioned = entities.drop_duplicates(["post_id", "entity_id"])
        top = mentioned.groupby("entity_name").size().sort_values(ascending=False, kind="stable").head(top_n)
        rows += [("top_entity_posts", name, int(n)) for name, n in top.items()]
        rows.append(("entity_coverage", "", mentioned["post_id"].nunique() / posts if posts else 0.0))
    scored, semantic = 0.0, 0.0
    if sentiment is not None and len(sentiment) and posts:
        rows += _sentiment_rows(cleaned, sentiment)
        scored = float(cleaned["post_id"].isin(set(sentiment["post_id"])).mean())
    if embedded is not None and posts:
        semantic = float(cleaned["post_id"].isin(set(embedded["post_id"])).mean())
        rows.append(("semantic_coverage", "", semantic))
    level = processing_level(scored, semantic) if posts else "basic"
    if topics is not None and len(topics) and posts:
        rows += _topic_rows(cleaned, topics, top_n)
    frame = pd.DataFrame(rows, columns=["metric", "key", "value"]).astype({"value": "float64"})
    return frame.assign(
        platform=platform, batch_id=batch_id, processing_level=level, computed_at=now or pd.Timestamp.now(tz="UTC")
    )[list(METRIC_COLUMNS)]


def _sentiment_rows(cleaned: pd.DataFrame, sentiment: pd.DataFrame) -> list[tuple[str, str, float]]:
    scored = cleaned[["post_id", "created_at"]].merge(
        sentiment[["post_id", "sentiment_label", "sentiment_score"]], on="post_id", how="inner"
    )
    rows = [
        ("sentiment_coverage", "", len(scored) / len(cleaned)),
        ("sentiment_mean", "", float(scored["sentiment_score"].mean())),
    ]
    shares = scored["sentiment_label"].value_counts(normalize=True)
    rows += [("sentiment_share", label, float(shares.get(label, 0.0))) for label in ("negative", "neutral", "positive")]
    if scored["created_at"].notna().any():
        daily = scored.groupby(scored["created_at"].dt.floor("D"))["sentiment_score"].mean()
        rows += [("sentiment_daily_mean", f"{d:%Y-%m-%d}", float(v)) for d, v in daily.items()]
    return rows


def _topic_rows(cleaned: pd.DataFrame, topics: pd.DataFrame, top_n: int) -> list[tuple[str, str, float]]:
    assigned = topics[topics["post_id"].isin(set(cleaned["post_id"]))]
    in_topic = assigned[assigned["topic_id"] >= 0]
    top = in_topic.groupby("label").size().sort_values(ascending=False, kind="stable").head(top_n)
    rows = [("topic_posts", str(label), int(n)) for label, n in top.items()]
    rows.append(("topic_coverage", "", len(in_topic) / len(cleaned)))
    return rows


def metric_value(metrics: pd.DataFrame, name: str, key: str = "") -> float | None:
    found = metrics.loc[(metrics["metric"] == name) & (metrics["key"] == key), "value"]
    return float(found.iloc[0]) if len(found) else None
