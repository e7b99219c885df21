"""The canonical post schema every platform is mapped onto, and the quarantine schema beside it."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

# Text columns are Arrow-backed: one buffer per column rather than a Python object per cell, which makes
# string work vectorised and the Parquet write a copy rather than a conversion.
TEXT = pd.StringDtype("pyarrow")


def text_series(values: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    """Arrow text as a TEXT column, sharing its buffers: no Python string per value."""
    chunked = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    if not pa.types.is_large_string(chunked.type):  # string, or null for an empty or all-null result
        chunked = chunked.cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(chunked), index=index)


def arrow_text(column: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow: the buffers themselves for TEXT columns, a conversion for any other."""
    if column.dtype == TEXT:
        return pa.array(column)
    return pa.array(column.astype(object).where(column.notna(), None).tolist(), pa.string())


# column -> (pandas dtype, description). Order is the column order of raw_posts.
POST_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string[pyarrow]", "uuid5 of '<platform>:<native_id>' (the same id Weaviate's generate_uuid5 gives)"),
    "platform": ("string[pyarrow]", "platform name from its YAML file"),
    "native_id": ("string[pyarrow]", "the platform's own id (derived from the row's content when the export has none)"),
    "batch_id": ("string[pyarrow]", "the ingested file: the dynamic partition key"),
    "source_file": ("string[pyarrow]", "file name as it arrived in the inbox"),
    "source_row": ("int64", "1-based record number in the file"),
    "text": ("string[pyarrow]", "post text as exported (several columns joined by a newline)"),
    "author": ("string[pyarrow]", "author handle or id"),
    "created_at": ("datetime64[ns, UTC]", "publication time, UTC"),
    "parent_id": ("string[pyarrow]", "native id of the post this one replies to"),
    "parent_post_id": ("string[pyarrow]", "post_id of the parent, for joins"),
    "url": ("string[pyarrow]", "link to the post"),
    "likes": ("Int64", "engagement counts; null where the export has none"),
    "comments": ("Int64", ""),
    "shares": ("Int64", ""),
    "views": ("Int64", ""),
    "labels": ("string[pyarrow]", "JSON object {label column: value} of the columns that name entities"),
    "raw_record": ("string[pyarrow]", "the original record as JSON, so a mapper fix can re-map without the file"),
    "ingested_at": ("datetime64[ns, UTC]", "when this batch was mapped"),
}
ENGAGEMENT_COLUMNS = ("likes", "comments", "shares", "views")

QUARANTINE_COLUMNS: dict[str, tuple[str, str]] = {
    "platform": ("string[pyarrow]", ""),
    "batch_id": ("string[pyarrow]", ""),
    "source_file": ("string[pyarrow]", ""),
    "source_row": ("int64", "1-based record number in the file"),
    "field": ("string[pyarrow]", "the first canonical field that failed"),
    "reason": ("string[pyarrow]", "every reason the row failed, '; '-separated"),
    "raw_record": ("string[pyarrow]", "the original record as JSON"),
    "quarantined_at": ("datetime64[ns, UTC]", ""),
}


# What the other table assets write, column -> (dtype, meaning), in the order they write it. The assets layer
# turns these into Dagster column schemas; a test materialises a batch and holds each asset to its schema.
LIST_TEXT = "list<string>"
CLEANED_COLUMNS: dict[str, tuple[str, str]] = {
    **{name: spec for name, spec in POST_COLUMNS.items() if name != "raw_record"},
    "clean_text": ("string[pyarrow]", "text with unicode and whitespace normalised, links replaced by {link}"),
    "urls": (LIST_TEXT, "links in the text"),
    "mentions": (LIST_TEXT, "@handles in the text, lower case"),
    "hashtags": (LIST_TEXT, "#hashtags in the text, lower case"),
    "emoji": (LIST_TEXT, "emoji in the text"),
    "near_duplicate_of": ("string[pyarrow]", "post_id of an earlier post with the same normalised text"),
}
CONSERVATIVE_ENTITY_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string[pyarrow]", ""),
    "platform": ("string[pyarrow]", ""),
    "batch_id": ("string[pyarrow]", ""),
    "entity_id": ("string[pyarrow]", "dictionary id, or label:<column>:<value> for a label column's value"),
    "entity_name": ("string[pyarrow]", "the entity's canonical name"),
    "entity_type": ("string[pyarrow]", "ORG, PRODUCT, PERSON, ... or LABEL"),
    "surface": ("string[pyarrow]", "the text that matched"),
    "method": ("string[pyarrow]", "alias | handle | hashtag | label"),
    "start": ("Int64", "character offset in clean_text (null for a label column)"),
    "end": ("Int64", ""),
    "confidence": ("float64", "from entities.confidence per method; only >= the threshold is kept"),
}
BATCH_METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    "platform": ("string", ""),
    "batch_id": ("string", ""),
    "metric": ("string", "posts, engagement_per_post, sentiment_coverage, top_entity_posts, volume_daily, ..."),
    "key": ("string", "the metric's key (an entity, a day) or empty"),
    "value": ("float64", ""),
    "processing_level": ("string", "basic | sentiment_complete | full"),
    "computed_at": ("datetime64[ns, UTC]", ""),
}
SENTIMENT_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string[pyarrow]", ""),
    "sentiment_label": ("category", "negative | neutral | positive"),
    "sentiment_score": ("float64", "in [-1, 1]: P(positive) - P(negative)"),
    "prob_negative": ("float64", ""),
    "prob_neutral": ("float64", ""),
    "prob_positive": ("float64", ""),
    "sentiment_confidence": ("float64", "the winning class's probability"),
    "engine": ("category", "the engine actually used (vader where the configured one fell back)"),
    "model_version": ("category", "the version the score was computed under"),
    "scored_at": ("datetime64[ns, UTC]", ""),
    "run_id": ("category", "the Dagster run that scored it"),
}
ENHANCED_ENTITY_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string[pyarrow]", ""),
    "entities": (
        "list<struct>",
        "the post's entities: entity_id, surface, label, start, end, method (ner | ruler), confidence",
    ),
    "model_version": ("string", "spaCy model and dictionary version"),
    "processed_at": ("datetime64[ns, UTC]", ""),
    "run_id": ("string", ""),
}
EMBEDDING_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string[pyarrow]", ""),
    "vector": ("fixed_size_list<float32>", "unit-length sentence embedding, store.vector_dim floats"),
    "model_version": ("category", ""),
    "embedded_at": ("datetime64[ns, UTC]", ""),
    "run_id": ("category", ""),
}
TOPIC_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "topic_id": ("int64", "-1 holds the outliers"),
    "label": ("string", "the topic's top words, joined"),
    "top_words": (LIST_TEXT, ""),
    "size": ("int64", "posts assigned"),
    "share": ("float64", "share of the scope's posts"),
    "coherence": ("float64", "c_v coherence"),
    "representative_post_ids": (LIST_TEXT, ""),
    "representative_texts": (LIST_TEXT, ""),
    "fit_id": ("string", "the BERTopic fit these topics come from"),
    "fitted_at": ("datetime64[ns, UTC]", ""),
}
TOPIC_ASSIGNMENT_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string", ""),
    "platform": ("string", ""),
    "topic_id": ("int64", "-1: no topic"),
    "probability": ("float64", ""),
    "fit_id": ("string", ""),
    "method": ("string", "fit | transform"),
}
SCOPE_METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    "scope": ("string", "the platform, or cross_platform"),
    "metric": ("string", "volume, engagement, sentiment and its trend, share of voice, topics, response times"),
    "key": ("string", ""),
    "value": ("float64", ""),
    "processing_level": ("string", "basic | sentiment_complete | full"),
    "sentiment_coverage": ("float64", ""),
    "semantic_coverage": ("float64", ""),
    "last_updated": ("datetime64[ns, UTC]", ""),
}
CANONICAL_ENTITY_COLUMNS: dict[str, tuple[str, str]] = {
    "entity_id": ("string", "canonical id: a dictionary id, discovered:<slug> or a label value"),
    "primary_name": ("string", ""),
    "aliases": (LIST_TEXT, ""),
    "type": ("string", ""),
    "origin": ("string", "dictionary | discovered | label"),
    "learned_aliases": (LIST_TEXT, "aliases added by resolution or review decisions"),
    "learned_from": (LIST_TEXT, "the review item that taught each learned alias, aligned"),
    "platforms": (LIST_TEXT, "platforms with a mention"),
    "mentions": ("int64", ""),
}
MENTION_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string", ""),
    "platform": ("string", ""),
    "surface": ("string", ""),
    "label": ("string", ""),
    "method": ("string", "which extractor found it"),
    "confidence": ("float64", ""),
    "model_version": ("string", ""),
    "canonical_id": ("string", "null while the mention is in review"),
    "link": ("string", "how it was linked: exact, fuzzy, decided, discovered, filtered, review"),
    "conflict_id": ("string", "the review item for its surface"),
    "resolver_version": ("string", ""),
}
REVIEW_COLUMNS: dict[str, tuple[str, str]] = {
    "conflict_id": ("string", ""),
    "surface": ("string", ""),
    "label": ("string", ""),
    "reason": ("string", ""),
    "candidates": (LIST_TEXT, "canonical ids it might mean"),
    "candidate_scores": ("list<float64>", ""),
    "mentions": ("int64", ""),
    "posts": ("int64", ""),
    "max_confidence": ("float64", ""),
    "examples": (LIST_TEXT, "example post texts"),
}
SIGNATURE_COLUMNS: dict[str, tuple[str, str]] = {
    "post_id": ("string", ""),
    "platform": ("string", ""),
    "signature": ("string", "the post's canonical entities and topic as last synced into the store"),
}

# Every table asset (an asset whose value is a DataFrame in the lake), by its name within its group.
TABLE_SCHEMAS: dict[str, dict[str, tuple[str, str]]] = {
    "raw_posts": POST_COLUMNS,
    "quarantine": QUARANTINE_COLUMNS,
    "cleaned_posts": CLEANED_COLUMNS,
    "conservative_entities": CONSERVATIVE_ENTITY_COLUMNS,
    "basic_metrics": BATCH_METRIC_COLUMNS,
    "sentiment_scores": SENTIMENT_COLUMNS,
    "enhanced_entities": ENHANCED_ENTITY_COLUMNS,
    "post_embeddings": EMBEDDING_COLUMNS,
    "topics": TOPIC_TABLE_COLUMNS,
    "topic_assignments": TOPIC_ASSIGNMENT_COLUMNS,
    "platform_metrics": SCOPE_METRIC_COLUMNS,
    "cross_platform_metrics": SCOPE_METRIC_COLUMNS,
    "resolved_entities": CANONICAL_ENTITY_COLUMNS,
    "entity_mentions": MENTION_COLUMNS,
    "entity_review_queue": REVIEW_COLUMNS,
    "store_resync": SIGNATURE_COLUMNS,
}


def conform(df: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Select and type the schema's columns in order; a missing column is an error, not a silent null."""
    missing = [name for name in columns if name not in df.columns]
    if missing:
        raise KeyError(f"frame lacks schema columns {missing}")
    return df[list(columns)].astype({name: dtype for name, (dtype, _) in columns.items()})


def schema_markdown(columns: dict[str, tuple[str, str]]) -> str:
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {dtype} | {doc} |" for name, (dtype, doc) in columns.items()]
    return "\n".join(lines)
