"""Daily analytics with DuckDB straight over the lake's Parquet files: per-platform and cross-platform
metrics in one long table (scope, metric, key, value), each row carrying what it rests on.

`processing_level` is `full` when every post of the scope has sentiment and a vector, `sentiment_complete`
when every post has sentiment, else `basic`: numbers from phase-1 data (or a partly enriched scope) are
labelled as such, never mistaken for final ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from mlds_assets.core.lake_sql import lake_connection, parquet_file, parquet_files
from mlds_assets.core.metrics import metric_value, processing_level
from mlds_assets.core.schema import SCOPE_METRIC_COLUMNS

CROSS_PLATFORM = "cross_platform"
METRICS_COLUMNS = list(SCOPE_METRIC_COLUMNS)


@dataclass(frozen=True)
class LakeFiles:
    """The Parquet files the analytics read, per platform (empty lists where an asset has none yet)."""

    lake: str
    platforms: tuple[str, ...]

    def batches(self, platform: str, asset: str) -> list[str]:
        return parquet_files(self.lake, platform, asset)

    def single(self, scope: str, asset: str) -> str | None:
        return parquet_file(self.lake, scope, asset)


def _union(parts: list[str], empty: str) -> str:
    return " UNION ALL ".join(parts) if parts else empty


def _files(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def connect(files: LakeFiles) -> duckdb.DuckDBPyConnection:
    """Views over the lake: posts (one row per post, the latest ingestion), sentiment, entities (the
    conservative pass plus what resolution linked), embedded posts and topic assignments with labels."""
    con = lake_connection(files.lake)
    posts, sentiment, entities, embedded, topics = [], [], [], [], []
    for p in files.platforms:
        literal = "'" + p + "'"
        if cleaned := files.batches(p, "cleaned_posts"):
            posts.append(
                f"SELECT {literal} AS platform, post_id, created_at, author, parent_post_id, likes, comments, "
                f"shares, views, ingested_at FROM read_parquet({_files(cleaned)}, union_by_name = true)"
            )
        if scores := files.batches(p, "sentiment_scores"):
            sentiment.append(
                f"SELECT {literal} AS platform, post_id, CAST(sentiment_label AS VARCHAR) AS sentiment_label, "
                f"sentiment_score, scored_at FROM read_parquet({_files(scores)}, union_by_name = true)"
            )
        if found := files.batches(p, "conservative_entities"):
            entities.append(
                f"SELECT {literal} AS platform, post_id, entity_id, entity_name FROM read_parquet({_files(found)})"
            )
        if vectors := files.batches(p, "post_embeddings"):
            embedded.append(f"SELECT {literal} AS platform, post_id FROM read_parquet({_files(vectors)})")
    for scope in (*files.platforms, CROSS_PLATFORM):
        assignments, table = files.single(scope, "topic_assignments"), files.single(scope, "topics")
        if assignments and table:
            topics.append(
                f"SELECT '{scope}' AS scope, a.post_id, a.topic_id, t.label FROM read_parquet('{assignments}') a "
                f"JOIN read_parquet('{table}') t USING (topic_id)"
            )
    mentions, canonical = (
        files.single(CROSS_PLATFORM, "entity_mentions"),
        files.single(CROSS_PLATFORM, "resolved_entities"),
    )
    if mentions and canonical:  # resolution's links, named by the canonical table
        entities.append(
            f"SELECT m.platform, m.post_id, m.canonical_id AS entity_id, c.primary_name AS entity_name "
            f"FROM read_parquet('{mentions}') m JOIN read_parquet('{canonical}') c ON c.entity_id = m.canonical_id "
            "WHERE m.canonical_id IS NOT NULL AND m.link <> 'rejected'"
        )
    con.execute(
        "CREATE TEMP VIEW posts AS SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER "
        "(PARTITION BY post_id ORDER BY ingested_at DESC) AS rn FROM ("
        + _union(
            posts,
            "SELECT NULL::VARCHAR platform, NULL::VARCHAR post_id, NULL::TIMESTAMPTZ created_at, NULL::VARCHAR author, "
            "NULL::VARCHAR parent_post_id, NULL::BIGINT likes, NULL::BIGINT comments, NULL::BIGINT shares, "
            "NULL::BIGINT views, NULL::TIMESTAMPTZ ingested_at WHERE false",
        )
        + ")) WHERE rn = 1"
    )
    con.execute(
        "CREATE TEMP VIEW sentiment AS SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER "
        "(PARTITION BY post_id ORDER BY scored_at DESC) AS rn FROM ("
        + _union(
            sentiment,
            "SELECT NULL::VARCHAR platform, NULL::VARCHAR post_id, NULL::VARCHAR sentiment_label, "
            "NULL::DOUBLE sentiment_score, NULL::TIMESTAMPTZ scored_at WHERE false",
        )
        + ")) WHERE rn = 1"
    )
    con.execute(
        "CREATE TEMP VIEW entities AS SELECT platform, post_id, entity_id, any_value(entity_name) AS entity_name "
        "FROM ("
        + _union(
            entities,
            "SELECT NULL::VARCHAR platform, NULL::VARCHAR post_id, NULL::VARCHAR entity_id, "
            "NULL::VARCHAR entity_name WHERE false",
        )
        + ") GROUP BY ALL"
    )
    con.execute(
        "CREATE TEMP VIEW embedded AS SELECT DISTINCT platform, post_id FROM ("
        + _union(embedded, "SELECT NULL::VARCHAR platform, NULL::VARCHAR post_id WHERE false")
        + ")"
    )
    con.execute(
        "CREATE TEMP VIEW topics AS "
        + _union(
            topics,
            "SELECT NULL::VARCHAR scope, NULL::VARCHAR post_id, NULL::BIGINT topic_id, NULL::VARCHAR label WHERE false",
        )
    )
    return con


# (metric, SQL returning key, value) over `p` (the scope's posts) and the views joined to it. `{topics}`
# is the scope whose topics count: the platform's own, or the cross-platform ones.
_METRICS: list[tuple[str, str]] = [
    ("posts", "SELECT '' AS key, count(*) AS value FROM p"),
    ("platform_posts", "SELECT platform, count(*) FROM p GROUP BY 1"),
    ("authors", "SELECT '', count(DISTINCT author) FROM p"),
    ("volume_daily", "SELECT strftime(date_trunc('day', created_at), '%Y-%m-%d'), count(*) FROM p "
     "WHERE created_at IS NOT NULL GROUP BY 1"),
    ("engagement_total", "SELECT '', sum(coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0)) FROM p "
     "WHERE NOT (likes IS NULL AND comments IS NULL AND shares IS NULL) HAVING count(*) > 0"),
    ("engagement_per_post", "SELECT '', avg(coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0)) FROM p "
     "WHERE NOT (likes IS NULL AND comments IS NULL AND shares IS NULL) HAVING count(*) > 0"),
    ("engagement_daily", "SELECT strftime(date_trunc('day', created_at), '%Y-%m-%d'), "
     "sum(coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0)) FROM p WHERE created_at IS NOT NULL "
     "AND NOT (likes IS NULL AND comments IS NULL AND shares IS NULL) GROUP BY 1"),
    ("sentiment_share", "SELECT s.sentiment_label, count(*) / sum(count(*)) OVER () FROM p JOIN sentiment s "
     "USING (post_id) GROUP BY 1"),
    ("sentiment_mean", "SELECT '', avg(s.sentiment_score) FROM p JOIN sentiment s USING (post_id) "
     "HAVING count(*) > 0"),
    ("sentiment_daily_mean", "SELECT strftime(date_trunc('day', p.created_at), '%Y-%m-%d'), avg(s.sentiment_score) "
     "FROM p JOIN sentiment s USING (post_id) WHERE p.created_at IS NOT NULL GROUP BY 1"),
    ("share_of_voice", "SELECT e.entity_id, count(DISTINCT post_id) / (SELECT count(DISTINCT post_id) FROM p "
     "JOIN entities USING (post_id)) FROM p JOIN entities e USING (post_id) GROUP BY 1"),
    ("entity_posts", "SELECT e.entity_id, count(DISTINCT post_id) FROM p JOIN entities e USING (post_id) GROUP BY 1"),
    ("entity_sentiment_mean", "SELECT e.entity_id, avg(s.sentiment_score) FROM p JOIN entities e USING (post_id) "
     "JOIN sentiment s USING (post_id) GROUP BY 1"),
    ("entity_sentiment_weekly", "SELECT e.entity_id || '|' || strftime(date_trunc('week', p.created_at), '%Y-%m-%d'), "
     "avg(s.sentiment_score) FROM p JOIN entities e USING (post_id) JOIN sentiment s USING (post_id) "
     "WHERE p.created_at IS NOT NULL GROUP BY 1"),
    ("entity_platform_posts", "SELECT e.entity_id || '@' || p.platform, count(DISTINCT post_id) FROM p "
     "JOIN entities e USING (post_id) GROUP BY 1"),
    ("topic_posts", "SELECT t.label, count(*) FROM p JOIN topics t USING (post_id) "
     "WHERE t.scope = '{topics}' AND t.topic_id >= 0 GROUP BY 1"),
    ("topic_sentiment_mean", "SELECT t.label, avg(s.sentiment_score) FROM p JOIN topics t USING (post_id) "
     "JOIN sentiment s USING (post_id) WHERE t.scope = '{topics}' AND t.topic_id >= 0 GROUP BY 1"),
    ("responses", "SELECT '', count(*) FROM replies HAVING count(*) > 0"),
    ("response_minutes_median", "SELECT '', median(minutes) FROM replies HAVING count(*) > 0"),
    ("response_minutes_p90", "SELECT '', quantile_cont(minutes, 0.9) FROM replies HAVING count(*) > 0"),
]  # fmt: skip

# A reply answers a post by someone else, after it: its delay is a response time (customer care).
_REPLIES = (
    "CREATE OR REPLACE TEMP VIEW replies AS SELECT r.post_id, "
    "date_diff('second', q.created_at, r.created_at) / 60.0 AS minutes "
    "FROM p r JOIN p q ON r.parent_post_id = q.post_id "
    "WHERE r.author IS DISTINCT FROM q.author AND r.created_at >= q.created_at"
)


def scope_metrics(con: duckdb.DuckDBPyConnection, scope: str, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """The long metrics table of one scope: a platform's posts, or every platform's (cross_platform)."""
    where = "" if scope == CROSS_PLATFORM else f"WHERE platform = '{scope}'"
    con.execute(f"CREATE OR REPLACE TEMP VIEW p AS SELECT * FROM posts {where}")
    con.execute(_REPLIES)
    frames = []
    for metric, sql in _METRICS:
        if metric in ("platform_posts", "entity_platform_posts") and scope != CROSS_PLATFORM:
            continue
        rows = con.execute(sql.format(topics=scope)).fetchall()
        if rows:
            frames.append(pd.DataFrame(rows, columns=["key", "value"]).assign(metric=metric))
    table = pd.concat(frames, ignore_index=True).astype({"key": "string", "value": "float64"})
    table["key"] = table["key"].fillna("")
    posts, scored, embedded = con.execute(
        "SELECT count(*), count(s.post_id), count(e.post_id) FROM p LEFT JOIN sentiment s USING (post_id) "
        "LEFT JOIN embedded e USING (post_id)"
    ).fetchone()
    sentiment_coverage = scored / posts if posts else 0.0
    semantic_coverage = embedded / posts if posts else 0.0
    return table.assign(
        scope=scope,
        processing_level=processing_level(sentiment_coverage, semantic_coverage),
        sentiment_coverage=sentiment_coverage,
        semantic_coverage=semantic_coverage,
        last_updated=now or pd.Timestamp.now(tz="UTC"),
    )[METRICS_COLUMNS].sort_values(["metric", "key"], ignore_index=True)


value = metric_value  # one lookup for batch metrics and daily analytics (same long shape)


def series(metrics: pd.DataFrame, metric: str) -> pd.Series:
    """A metric's values by key, in key order (days sort as dates)."""
    rows = metrics[metrics["metric"] == metric]
    return rows.set_index("key")["value"].sort_index()
