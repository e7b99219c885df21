"""Phase-1 posts as post-store records: what is known now, with every later field pending (null)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlds_assets.core.cleaning import FEATURE_LIST_TYPE, as_feature_column
from mlds_assets.core.schema import SIGNATURE_COLUMNS as SIGNATURE_SCHEMA
from mlds_assets.core.schema import arrow_text

# What post_collection reads of cleaned_posts.
STORE_INPUT_COLUMNS = [
    "post_id", "platform", "batch_id", "native_id", "author", "created_at", "clean_text", "url",
    "likes", "comments", "shares", "views", "hashtags", "ingested_at",
]  # fmt: skip


SENTIMENT_STORE_COLUMNS = ["post_id", "sentiment_label", "sentiment_score", "scored_at"]
EMBEDDING_STORE_COLUMNS = ["post_id", "vector", "embedded_at"]
TOPIC_STORE_COLUMNS = ["post_id", "topic_id"]

# A record's processing_status: what it still waits for, in the order the phases fill it in.
PENDING_SENTIMENT, PENDING_SEMANTIC, COMPLETE = "pending_sentiment", "pending_semantic", "complete"


def _lists_per_post(posts: pd.Series, owners: pd.Series, values: pd.Series) -> pd.Series:
    """`values` gathered into one list per post (in `posts`' order; [] for none), built as one Arrow list
    array from offsets, with the post lookup in Arrow: no Python object per post or value."""
    rows = pc.index_in(arrow_text(owners), value_set=arrow_text(posts))  # null: not a post of this batch
    known = pc.is_valid(rows)
    rows = np.asarray(rows.filter(known).to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(posts)))]).astype(np.int32)
    flat = pa.chunked_array([arrow_text(values)]).filter(known).take(pa.array(order)).cast(pa.string())
    return pd.Series(pa.ListArray.from_arrays(pa.array(offsets), flat.combine_chunks()), dtype=FEATURE_LIST_TYPE)


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


def _with_vectors(records: pd.DataFrame, embeddings: pd.DataFrame) -> pd.DataFrame:
    """The batch's vectors laid onto its records by post_id, kept as one Arrow fixed-size-list column
    (null where a post has none yet)."""
    vectors = embeddings.drop_duplicates("post_id", keep="last").reset_index(drop=True)
    where = pd.Index(vectors["post_id"]).get_indexer(records["post_id"])
    taken = pa.chunked_array(vectors["vector"].array._pa_array).combine_chunks()
    found = where >= 0
    indices = pa.array(np.where(found, where, 0), mask=~found)
    records["vector"] = pd.Series(taken.take(indices), dtype=vectors["vector"].dtype, index=records.index)
    records["semantic_processed_at"] = records["post_id"].map(vectors.set_index("post_id")["embedded_at"])
    return records


def store_records(
    cleaned: pd.DataFrame,
    entities: pd.DataFrame,
    sentiment: pd.DataFrame | None = None,
    resolved: pd.DataFrame | None = None,
    embeddings: pd.DataFrame | None = None,
    topics: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One record per post, with what is known now. `entities` lists the canonical ids the conservative pass
    found; `resolved` (from `canonical_links`) adds those resolution found beyond it. `sentiment` and
    `embeddings` (the vector) fill their fields once computed, and the status says what is still pending:
    pending_sentiment, then pending_semantic, then complete. `topics` sets each post's topic_id."""
    records = cleaned[[c for c in STORE_INPUT_COLUMNS if c in cleaned.columns]].rename(columns={"clean_text": "text"})
    records = records.reset_index(drop=True)
    records["hashtags"] = as_feature_column(records["hashtags"])
    found = entities[["post_id", "entity_id", "entity_name"]]
    if resolved is not None and len(resolved):
        found = pd.concat([found, resolved], ignore_index=True)
    distinct = found.drop_duplicates(["post_id", "entity_id"])
    records["entities"] = _lists_per_post(records["post_id"], distinct["post_id"], distinct["entity_id"])
    records["entity_names"] = _lists_per_post(records["post_id"], distinct["post_id"], distinct["entity_name"])
    scored = np.zeros(len(records), dtype=bool)
    embedded = np.zeros(len(records), dtype=bool)
    if sentiment is not None and len(sentiment):
        scores = sentiment.drop_duplicates("post_id").set_index("post_id")
        records["sentiment_label"] = records["post_id"].map(scores["sentiment_label"]).astype("string")
        records["sentiment_score"] = records["post_id"].map(scores["sentiment_score"]).astype("float64")
        records["sentiment_processed_at"] = records["post_id"].map(scores["scored_at"])
        scored = records["sentiment_label"].notna().to_numpy()
    if embeddings is not None and len(embeddings):
        records = _with_vectors(records, embeddings)
        embedded = records["vector"].notna().to_numpy()
    if topics is not None and len(topics):
        records["topic_id"] = records["post_id"].map(topics.drop_duplicates("post_id").set_index("post_id")["topic_id"])
        records["topic_id"] = records["topic_id"].astype("Int64")
    records["processing_status"] = np.where(scored, np.where(embedded, COMPLETE, PENDING_SEMANTIC), PENDING_SENTIMENT)
    for engagement in ("likes", "comments", "shares", "views"):
        records[engagement] = records[engagement].astype("Int64")
    for column in ("created_at", "ingested_at", "sentiment_processed_at", "semantic_processed_at"):
        # the store keeps microseconds: a batch mapped before timestamps got one precision may carry more
        if column in records.columns and pd.api.types.is_datetime64_any_dtype(records[column]):
            records[column] = records[column].dt.floor("us")
    return records.reset_index(drop=True)


SIGNATURE_COLUMNS = list(SIGNATURE_SCHEMA)


def link_signatures(mentions: pd.DataFrame | None, assignments: list[pd.DataFrame]) -> pd.DataFrame:
    """(post_id, platform, signature): what the cross-platform assets say of each post's store record
    beyond its own batch (canonical entities resolution added, the platform topic). Two signatures that
    differ mean the post's record must be written again; nothing else about it changed."""
    parts = []
    if mentions is not None and len(mentions):
        linked = mentions[mentions["canonical_id"].notna() & ~mentions["link"].isin(["conservative", "rejected"])]
        if len(linked):
            entity_ids = (
                linked.drop_duplicates(["post_id", "canonical_id"])
                .sort_values(["post_id", "canonical_id"])
                .groupby(["post_id", "platform"], sort=False)["canonical_id"]
                .agg(",".join)
                .rename("entities")
            )
            parts.append(entity_ids)
    topics = [a[["post_id", "platform", "topic_id"]] for a in assignments if a is not None and len(a)]
    if topics:
        topic_ids = pd.concat(topics, ignore_index=True).drop_duplicates(["post_id", "platform"], keep="last")
        parts.append(
            topic_ids.set_index(["post_id", "platform"])["topic_id"].astype("Int64").astype(str).rename("topic")
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SIGNATURE_COLUMNS})
    joined = pd.concat(parts, axis=1).fillna("")
    for column in ("entities", "topic"):
        if column not in joined:
            joined[column] = ""
    signature = "e=" + joined["entities"].astype(str) + ";t=" + joined["topic"].astype(str)
    return signature.rename("signature").reset_index()[SIGNATURE_COLUMNS]


def changed_posts(previous: pd.DataFrame | None, current: pd.DataFrame) -> pd.DataFrame:
    """(post_id, platform) whose signature is new, changed or gone since `previous` (None: never synced)."""
    if previous is None or not len(previous):
        return current[["post_id", "platform"]].reset_index(drop=True)
    both = previous.merge(current, on=["post_id", "platform"], how="outer", suffixes=("_before", "_now"))
    differs = both["signature_before"].fillna("\0") != both["signature_now"].fillna("\0")
    return both.loc[differs, ["post_id", "platform"]].reset_index(drop=True)
