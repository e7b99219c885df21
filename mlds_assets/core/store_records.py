"""Phase-1 posts as post-store records: what is known now, with every later field pending (null)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mlds_assets.core.cleaning import FEATURE_LIST_TYPE, as_feature_column

# What post_collection reads of cleaned_posts.
STORE_INPUT_COLUMNS = [
    "post_id", "platform", "batch_id", "native_id", "author", "created_at", "clean_text", "url",
    "likes", "comments", "shares", "views", "hashtags", "ingested_at",
]  # fmt: skip


SENTIMENT_STORE_COLUMNS = ["post_id", "sentiment_label", "sentiment_score", "scored_at"]


def _lists_per_post(posts: pd.Series, owners: pd.Series, values: pd.Series) -> pd.Series:
    """`values` gathered into one list per post (in `posts`' order; [] for none), built as one Arrow list
    array from offsets instead of a Python list per post."""
    position = pd.Series(np.arange(len(posts)), index=posts.to_numpy())
    rows = position.reindex(owners.to_numpy()).to_numpy()
    known = ~np.isnan(rows)
    rows = rows[known].astype(np.int64)
    order = np.argsort(rows, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(posts)))]).astype(np.int32)
    flat = pa.array(values.to_numpy(dtype=object)[known][order], pa.string())
    return pd.Series(pa.ListArray.from_arrays(pa.array(offsets), flat), dtype=FEATURE_LIST_TYPE)


def canonical_links(mentions: pd.DataFrame, canonical: pd.DataFrame, post_ids: pd.Series) -> pd.DataFrame:
    """(post_id, entity_id, entity_name) for the batch's posts that resolution linked beyond what the
    conservative pass already gave: enhanced mentions merged into, or discovered as, canonical entities."""
    linked = mentions[
        mentions["post_id"].isin(set(post_ids))
        & mentions["canonical_id"].notna()
        & ~mentions["link"].isin(["conservative", "rejected"])
    ]
    names = canonical.set_index("entity_id")["primary_name"]
    return pd.DataFrame(
        {
            "post_id": linked["post_id"].to_numpy(),
            "entity_id": linked["canonical_id"].to_numpy(),
            "entity_name": linked["canonical_id"].map(names).fillna(linked["canonical_id"]).to_numpy(),
        }
    )


def store_records(
    cleaned: pd.DataFrame,
    entities: pd.DataFrame,
    sentiment: pd.DataFrame | None = None,
    resolved: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One record per post; `entities` lists the canonical ids the conservative pass found, and `sentiment`
    (when the batch has been scored) moves a post from pending_sentiment to sentiment_complete; `resolved`
    (from `canonical_links`) adds the canonical entities resolution found beyond the conservative pass."""
    records = cleaned[[c for c in STORE_INPUT_COLUMNS if c in cleaned.columns]].rename(columns={"clean_text": "text"})
    records = records.reset_index(drop=True)
    records["hashtags"] = as_feature_column(records["hashtags"])
    found = entities[["post_id", "entity_id", "entity_name"]]
    if resolved is not None and len(resolved):
        found = pd.concat([found, resolved], ignore_index=True)
    distinct = found.drop_duplicates(["post_id", "entity_id"])
    records["entities"] = _lists_per_post(records["post_id"], distinct["post_id"], distinct["entity_id"])
    records["entity_names"] = _lists_per_post(records["post_id"], distinct["post_id"], distinct["entity_name"])
    records["processing_status"] = "pending_sentiment"
    if sentiment is not None and len(sentiment):
        scores = sentiment.drop_duplicates("post_id").set_index("post_id")
        records["sentiment_label"] = records["post_id"].map(scores["sentiment_label"]).astype("string")
        records["sentiment_score"] = records["post_id"].map(scores["sentiment_score"]).astype("float64")
        records["sentiment_processed_at"] = records["post_id"].map(scores["scored_at"])
        records.loc[records["sentiment_label"].notna(), "processing_status"] = "sentiment_complete"
    for engagement in ("likes", "comments", "shares", "views"):
        records[engagement] = records[engagement].astype("Int64")
    return records.reset_index(drop=True)
