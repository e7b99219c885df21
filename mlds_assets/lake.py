"""Reading the Parquet lake outside the IO manager, and writing it so plain pandas can read it back.

No dagster import: the store rebuild and the CLI read the lake too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from upath import UPath

from mlds_assets.core.embeddings import vector_matrix
from mlds_assets.core.lake_sql import lake_connection, parquet_files
from mlds_assets.core.parquet_frames import arrow_to_frame
from mlds_assets.core.store_records import (
    EMBEDDING_STORE_COLUMNS,
    SENTIMENT_STORE_COLUMNS,
    STORE_INPUT_COLUMNS,
    TOPIC_STORE_COLUMNS,
    canonical_links,
    store_records,
)

MENTIONS_PATH = ["cross_platform", "entity_mentions"]
CANONICAL_PATH = ["cross_platform", "resolved_entities"]


def read_lake_partition(
    base_path: str, key_path: list[str], partition: str | None, columns: list[str] | None = None
) -> pd.DataFrame | None:
    """An asset partition's stored value (partition None: an unpartitioned asset's), or None when it has
    none yet: for assets that use another asset's output when it exists (the store picks up sentiment once
    scored) without waiting for it."""
    if partition is None:
        path = UPath(base_path).joinpath(*key_path[:-1], f"{key_path[-1]}.parquet")
    else:
        path = UPath(base_path).joinpath(*key_path, f"{partition}.parquet")
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return arrow_to_frame(pq.read_table(handle, columns=columns))


def read_lake_asset(base_path: str, key_path: list[str], columns: list[str] | None = None) -> pd.DataFrame | None:
    """Every stored partition of an asset, stacked, with its partition key as `batch_id`: for
    cross-platform assets that read whole lanes. None when nothing is stored yet."""
    folder = UPath(base_path).joinpath(*key_path)
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    frames = []
    for path in files:
        with path.open("rb") as handle:
            frame = arrow_to_frame(pq.read_table(handle, columns=columns))
        frames.append(frame.assign(batch_id=path.stem) if "batch_id" not in frame.columns else frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def resolved_links(base_path: str, post_ids: pd.Series) -> pd.DataFrame | None:
    """Canonical entities resolution linked to these posts beyond the conservative pass, once it has run:
    what the store and the metrics add to a batch's own entities."""
    mentions = read_lake_partition(base_path, MENTIONS_PATH, None, ["post_id", "canonical_id", "link"])
    canonical = read_lake_partition(base_path, CANONICAL_PATH, None, ["entity_id", "primary_name"])
    if mentions is None or canonical is None:
        return None
    return canonical_links(mentions, canonical, post_ids)


def read_embedded_posts(base_path: str, platforms: list[str]) -> tuple[pd.DataFrame, np.ndarray, int]:
    """(posts: post_id, platform, batch_id, text, parent_post_id; their vectors; posts left out) for the posts
    that have a vector: what a topic model is fitted on. Only vectors of the most common model version are
    used (mixing two models' spaces would be meaningless); posts embedded under another are left out and
    counted, until their batch is re-embedded."""
    posts, vectors = [], []
    for platform in platforms:
        embedded = read_lake_asset(base_path, [platform, "post_embeddings"], ["post_id", "vector", "model_version"])
        cleaned = read_lake_asset(base_path, [platform, "cleaned_posts"], ["post_id", "clean_text", "parent_post_id"])
        if embedded is None or cleaned is None:
            continue
        embedded = embedded.drop_duplicates("post_id", keep="last")
        cleaned = cleaned.drop_duplicates("post_id", keep="last").set_index("post_id")
        texts = cleaned["clean_text"]
        embedded = embedded[embedded["post_id"].isin(texts.index)].reset_index(drop=True)
        posts.append(
            pd.DataFrame(
                {
                    "post_id": embedded["post_id"].to_numpy(),
                    "platform": platform,
                    "batch_id": embedded["batch_id"].to_numpy(),
                    "text": embedded["post_id"].map(texts).to_numpy(),
                    "parent_post_id": embedded["post_id"].map(cleaned["parent_post_id"]).to_numpy(),
                    "model_version": embedded["model_version"].astype(str).to_numpy(),
                }
            )
        )
        vectors.append(vector_matrix(embedded["vector"]))
    if not posts:
        empty = pd.DataFrame(columns=["post_id", "platform", "batch_id", "text", "parent_post_id"])
        return empty, np.zeros((0, 0), np.float32), 0
    frame = pd.concat(posts, ignore_index=True)
    matrix = np.concatenate([v for v in vectors if len(v)]) if any(len(v) for v in vectors) else np.zeros((0, 0))
    version = frame["model_version"].mode().iloc[0] if len(frame) else None
    keep = (frame["model_version"] == version).to_numpy()
    return frame.loc[keep].drop(columns="model_version").reset_index(drop=True), matrix[keep], int((~keep).sum())


def batch_store_records(
    base_path: str,
    platform: str,
    batch: str,
    cleaned: pd.DataFrame | None = None,
    entities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A batch's post-store records from everything the lake knows of it now: phase 1, and each phase-2
    result once it exists (sentiment, resolved entities, vectors, the platform's topic assignments).
    post_collection passes the inputs Dagster already loaded; `mlds store rebuild` reads them here."""
    if cleaned is None:
        cleaned = read_lake_partition(base_path, [platform, "cleaned_posts"], batch, STORE_INPUT_COLUMNS)
    if entities is None:
        entities = read_lake_partition(base_path, [platform, "conservative_entities"], batch)
    if entities is None:
        entities = pd.DataFrame(columns=["post_id", "entity_id", "entity_name"])
    return store_records(
        cleaned,
        entities,
        read_lake_partition(base_path, [platform, "sentiment_scores"], batch, SENTIMENT_STORE_COLUMNS),
        resolved_links(base_path, cleaned["post_id"]),
        read_lake_partition(base_path, [platform, "post_embeddings"], batch, EMBEDDING_STORE_COLUMNS),
        read_lake_partition(base_path, [platform, "topic_assignments"], None, TOPIC_STORE_COLUMNS),
    )


def batches_of_posts(base_path: str, platform: str, post_ids: pd.Series) -> list[str]:
    """The batches (partitions) of a platform that hold any of these posts, read with DuckDB from the
    cleaned posts' post_id and batch_id columns only."""
    files = parquet_files(base_path, platform, "cleaned_posts")
    if not files or not len(post_ids):
        return []
    con = lake_connection(base_path)
    con.register("wanted", pd.DataFrame({"post_id": pd.Series(post_ids, dtype=object).to_numpy()}))
    rows = con.execute(
        "SELECT DISTINCT p.batch_id FROM read_parquet(?) p JOIN wanted w USING (post_id) ORDER BY 1", [files]
    ).fetchall()
    return [row[0] for row in rows]


def topic_labels(base_path: str, scope: str) -> pd.DataFrame | None:
    """(post_id, topic_id, label) for a scope's posts once its topics exist: what the metrics count."""
    assignments = read_lake_partition(base_path, [scope, "topic_assignments"], None, ["post_id", "topic_id"])
    topics = read_lake_partition(base_path, [scope, "topics"], None, ["topic_id", "label"])
    if assignments is None or topics is None:
        return None
    return assignments.assign(label=assignments["topic_id"].map(topics.set_index("topic_id")["label"]))
