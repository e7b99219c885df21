"""What the lake holds per platform (read with DuckDB straight from the Parquet files), and what the post
store says of it."""

from __future__ import annotations

from mlds_assets.core.lake_sql import lake_connection, parquet_files


def _files(lake: str, platform: str, asset: str) -> list[str] | None:
    return parquet_files(lake, platform, asset) or None


def platform_status(lake: str, platform: str) -> dict:
    """posts are distinct post_ids across batches: the same post in two exports counts once."""
    status = {
        "posts": 0, "quarantined": 0, "entities": 0, "pending_sentiment": 0,
        "sentiment_coverage": None, "semantic_coverage": None, "last_ingested_at": None,
    }  # fmt: skip
    con = lake_connection(lake)
    cleaned = _files(lake, platform, "cleaned_posts")
    if cleaned:
        posts, last = con.execute(
            "SELECT count(DISTINCT post_id), max(ingested_at) FROM read_parquet(?)", [cleaned]
        ).fetchone()
        status.update(posts=posts, pending_sentiment=posts, sentiment_coverage=0.0, semantic_coverage=0.0)
        status["last_ingested_at"] = last.isoformat() if last is not None else None
    quarantine = _files(lake, platform, "quarantine")
    if quarantine:
        status["quarantined"] = con.execute("SELECT count(*) FROM read_parquet(?)", [quarantine]).fetchone()[0]
    entities = _files(lake, platform, "conservative_entities")
    if entities:
        status["entities"] = con.execute("SELECT count(*) FROM read_parquet(?)", [entities]).fetchone()[0]
    return status


def store_status(store, platform: str) -> dict:
    """What the post store says of a platform: distinct posts, pending sentiment, both coverages. The CLI's
    `mlds status` and the read API's /platforms report the same numbers."""
    posts = store.count({"platform": platform})
    duplicates = store.duplicate_records({"platform": platform}) if posts else 0
    posts -= duplicates  # distinct posts; the extra records are reported apart
    pending = store.count({"platform": platform, "processing_status": "pending_sentiment"})
    semantic = store.coverage("vector", {"platform": platform}) if posts else None
    return {
        "posts": posts,
        "duplicate_records": duplicates,
        "pending_sentiment": pending,
        "sentiment_coverage": round((posts - pending) / posts, 4) if posts else None,
        "semantic_coverage": round(semantic, 4) if semantic is not None else None,
    }
