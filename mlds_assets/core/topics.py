"""Topic discovery: BERTopic over the posts' precomputed embeddings, coherence measured with gensim.

A fit clusters (UMAP + HDBSCAN) and describes each cluster with c-TF-IDF words; the fitted model is saved
as safetensors (no pickle), and between refits new posts are assigned to the nearest topic embedding
(`assign_topics`). BERTopic is imported only
inside these functions: importing it costs ~15 s (numba), which the fast path and most tests never pay.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from upath import UPath

from mlds_assets.core.embeddings import unit_rows
from mlds_assets.core.upaths import is_local, local_folder, publish_folder, scratch_folder, write_bytes_atomically

# Words of two or more letters: digits, "_" and emoji-only tokens say nothing about a topic.
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
OUTLIER = -1
# HDBSCAN's membership strength (0-1) from which a post describes its topic: see _describe_by_core_members
CORE_MEMBERSHIP = 0.9
# Up to this many posts (or conversations) a fit finds their exact nearest neighbours (`exact_neighbours`)
EXACT_NEIGHBOURS_MAX = 50_000
# BERTopic's `language` only picks a default embedding model (the vectors are given here) and, when it is
# "english", strips every character but ASCII letters, digits and spaces before counting topic words:
# "Obama's" becomes "obamas", "U.S." "us", "café" "caf", words the coherence tokenizer never sees in the
# posts. Any other value leaves the text to the tokenizer below, the same one coherence uses.
KEEP_TEXT = "multilingual"
ASSIGNMENT_COLUMNS = ["post_id", "platform", "topic_id", "probability", "fit_id", "method"]
TOPIC_COLUMNS = [
    "topic_id", "label", "top_words", "size", "share", "coherence",
    "representative_post_ids", "representative_texts", "fit_id", "fitted_at",
]  # fmt: skip


class TopicModelError(RuntimeError):
    """Topics cannot be fitted or loaded; the message says why and what to do."""


@dataclass(frozen=True)
class TopicParams:
    seed: int = 42
    min_topic_size: int = 10
    umap_neighbors: int = 15
    umap_components: int = 5
    top_words: int = 10
    representative_posts: int = 3
    coherence_sample: int = 5000
    max_fit_posts: int = 200_000
    exclude_words: tuple[str, ...] = ()  # never topic words: the dictionary's names, aliases, handles, hashtags
    max_topics_per_10k: int | None = None  # at most this many topics per 10k posts (at least 10): see `clusterer`
    outlier_threshold: float | None = None  # reassign outliers whose similarity to a topic is at least this
    reduce_frequent_words: bool = False  # c-TF-IDF damps words frequent in every topic ("said", "new")
    min_topic_share: float = 0.0  # HDBSCAN's minimum cluster is at least this share of the posts fitted on
    unit: str = "post"  # "conversation": a reply is fitted together with the posts it answers (`conversations`)


_HANDLE_OR_URL = re.compile(r"@\w+|https?://\S+|www\.\S+")


def excluded_words(table) -> tuple[str, ...]:
    """The words of an entity dictionary (names, aliases, handles, hashtags), as the topic tokenizer
    splits them: a topic about "delta air lines" is about a brand, not an issue."""
    analyzer = tokenizer().build_analyzer()
    words: set[str] = set()
    for entity in table.entities.values():
        for form in (entity.name, *entity.aliases, *entity.handles, *entity.hashtags):
            words.update(analyzer(form.lstrip("@#")))
    return tuple(sorted(words))


def topic_documents(texts: list[str]) -> list[str]:
    """What topic words are drawn from: the text without @handles (whoever is addressed is not the issue)
    or links. The embeddings, and so the clusters, still see the whole post."""
    return [_HANDLE_OR_URL.sub(" ", text) for text in texts]


@dataclass
class TopicFit:
    model: object  # bertopic.BERTopic
    topics: pd.DataFrame  # TOPIC_COLUMNS
    assignments: pd.DataFrame  # ASSIGNMENT_COLUMNS
    coherence: float | None  # mean c_v over the topics; None when every post is an outlier
    fit_id: str


def new_fit_id(now: pd.Timestamp | None = None) -> str:
    """Sortable by time, unique across processes."""
    now = now or pd.Timestamp.now(tz="UTC")
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class TopicPlan:
    action: str  # "fit" | "assign" | "none"
    new_posts: int  # posts with a vector and no assignment under the current fit
    reason: str


def still_assigned(previous: pd.DataFrame | None, fit_id: str | None, post_ids: pd.Series) -> pd.DataFrame | None:
    """The previous run's assignments that still hold: made under the current fit, for posts that are still
    there. None when there is no fit or no previous run (the next run then fits)."""
    if fit_id is None or previous is None:
        return None
    return previous[previous["fit_id"].eq(fit_id) & previous["post_id"].isin(set(post_ids))]


def mean_coherence(topics: pd.DataFrame) -> float | None:
    """Mean c_v over the real topics (the outliers' row has none); None when there are no topics."""
    values = topics.loc[topics["topic_id"].ne(OUTLIER), "coherence"].dropna()
    return float(values.mean()) if len(values) else None


def plan_run(
    total: int, new_posts: int, has_model: bool, force: bool, min_new_records: int, min_posts: int
) -> TopicPlan:
    """Refit when forced, when there is no model yet, or when at least `min_new_records` posts arrived
    since the last fit; between refits, assign the new posts to the current topics; else do nothing."""
    if total < min_posts:
        return TopicPlan("none", new_posts, f"{total} posts with vectors; a fit needs at least {min_posts}")
    if force:
        return TopicPlan("fit", new_posts, "forced")
    if not has_model:
        return TopicPlan("fit", new_posts, "no topic model yet")
    if new_posts >= min_new_records:
        return TopicPlan("fit", new_posts, f"{new_posts} new posts >= topics.min_new_records ({min_new_records})")
    if new_posts:
        return TopicPlan("assign", new_posts, f"{new_posts} new posts < {min_new_records}: assigned, no refit")
    return TopicPlan("none", 0, "no new posts since the last run")


def min_posts_to_fit(params: TopicParams) -> int:
    """Below this, UMAP's neighbourhood graph and HDBSCAN's minimum cluster size leave nothing to find."""
    return max(2 * params.min_topic_size, params.umap_components + 2, 20)


def tokenizer(exclude: tuple[str, ...] = ()):
    """The analyzer topic words come from; coherence is measured on the same tokens."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop_words = sorted(ENGLISH_STOP_WORDS | set(exclude)) if exclude else "english"
    return CountVectorizer(stop_words=stop_words, token_pattern=TOKEN_PATTERN, lowercase=True)


def fit_topics(posts: pd.DataFrame, vectors: np.ndarray, params: TopicParams, fit_id: str) -> TopicFit:
    """Fit on posts (post_id, platform, text) and their unit vectors (rows aligned)."""
    if len(posts) != len(vectors):
        raise ValueError(f"{len(posts)} posts but {len(vectors)} vectors")
    if len(posts) < min_posts_to_fit(params):
        raise TopicModelError(
            f"{len(posts)} posts are too few to fit topics (at least {min_posts_to_fit(params)} with "
            f"topics.min_topic_size {params.min_topic_size})"
        )
    from bertopic import BERTopic
    from umap import UMAP

    texts = topic_documents(posts["text"].fillna("").astype(str).tolist())
    neighbours = min(params.umap_neighbors, len(posts) - 1)
    model = BERTopic(
        embedding_model=None,
        language=KEEP_TEXT,
        umap_model=UMAP(
            n_neighbors=neighbours,
            n_components=params.umap_components,
            min_dist=0.0,
            metric="cosine",
            random_state=params.seed,  # deterministic (UMAP then runs single-threaded)
            precomputed_knn=exact_neighbours(vectors, neighbours),
        ),
        hdbscan_model=clusterer(len(posts), params),
        vectorizer_model=tokenizer(params.exclude_words),
        ctfidf_model=_ctfidf(params),
        top_n_words=params.top_words,
        calculate_probabilities=False,
        verbose=False,
    )
    with warnings.catch_warnings():
        # UMAP warns that it cannot transform new data without its NNDescent index; new posts are
        # assigned by `nearest_topic`, never by UMAP's transform
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        topic_ids, probabilities = model.fit_transform(texts, vectors)
    _describe_by_core_members(model, texts, np.asarray(topic_ids), params)
    topic_ids, probabilities = _reassign_outliers(model, vectors, np.asarray(topic_ids), probabilities, params)
    assignments = _assignments(posts, np.asarray(topic_ids), np.asarray(probabilities, dtype=float), fit_id, "fit")
    per_topic = topic_coherence(model, texts, params)
    coherence = float(np.mean(list(per_topic.values()))) if per_topic else None
    table = topic_table(model, posts, vectors, assignments, per_topic, params, fit_id)
    return TopicFit(model, table, assignments, coherence, fit_id)


def exact_neighbours(
    vectors: np.ndarray, k: int, block: int = 2048
) -> tuple[np.ndarray | None, np.ndarray | None, None]:
    """UMAP's `precomputed_knn`: each row's k nearest rows by cosine distance (itself among them, at 0),
    from matrix products `block` rows at a time. UMAP's own search is slower both sides of its small-data
    cut (4,096 rows): below it, it calls a numba cosine from Python once per pair of rows (50 of 56 s of a
    fit on 3,000 posts); above it, NNDescent is compiled by numba afresh in every process (1-3 min on two
    cores, and each topics run is a new process) and finds approximate neighbours. Above
    `EXACT_NEIGHBOURS_MAX` rows (n^2 products) it is left to NNDescent again: (None, None, None)."""
    if len(vectors) > EXACT_NEIGHBOURS_MAX or k < 1:
        return None, None, None
    unit = unit_rows(vectors)
    indices = np.empty((len(unit), k), dtype=np.int64)
    distances = np.empty((len(unit), k), dtype=np.float32)
    for start in range(0, len(unit), block):
        rows = np.arange(start, min(start + block, len(unit)))
        distance = np.clip(1.0 - unit[rows] @ unit.T, 0.0, 2.0)
        distance[rows - start, rows] = 0.0
        nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(distance, nearest, axis=1)
        order = np.argsort(near, axis=1, kind="stable")
        indices[rows] = np.take_along_axis(nearest, order, axis=1)
        distances[rows] = np.take_along_axis(near, order, axis=1)
    return indices, distances, None


def min_cluster_size(posts: int, params: TopicParams) -> int:
    """`min_topic_size`, or `min_topic_share` of the posts when that is more: 10 posts is a topic in a few
    hundred, a crumb of one story in 10k (174 topics on 8.8k page posts)."""
    return max(params.min_topic_size, round(params.min_topic_share * posts))


def clusterer(posts: int, params: TopicParams):
    """HDBSCAN at the smallest minimum cluster size, from `min_cluster_size` up by a quarter at a time, that
    finds at most the topic cap (`max_topics_per_10k`); it always gets there, since no more than posts /
    minimum size clusters fit. Clusters found at their own density stay whole: merging the closest topics
    down to the cap afterwards (BERTopic's reduce_topics, which this replaces) joined unrelated ones, c_v
    0.48 against 0.54 on the NYT page posts and 0.41 against 0.44 on the customer-care tweets."""
    from hdbscan import HDBSCAN

    cap = topic_cap(posts, params.max_topics_per_10k) if params.max_topics_per_10k else None

    class CappedHDBSCAN(HDBSCAN):
        def fit(self, X, y=None, **kwargs):
            while True:
                super().fit(X, y, **kwargs)
                found = int(self.labels_.max()) + 1
                if cap is None or found <= cap or self.min_cluster_size * 2 > len(X):
                    return self
                self.min_cluster_size = math.ceil(self.min_cluster_size * 1.25)

    return CappedHDBSCAN(
        min_cluster_size=min_cluster_size(posts, params),
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=True,
    )


def _ctfidf(params: TopicParams):
    from bertopic.vectorizers import ClassTfidfTransformer

    return ClassTfidfTransformer(reduce_frequent_words=params.reduce_frequent_words)


def topic_cap(posts: int, per_10k: int) -> int:
    return max(10, math.ceil(per_10k * posts / 10_000))


def core_members(model, topic_ids: np.ndarray) -> np.ndarray:
    """The topic of each post HDBSCAN holds at membership strength >= CORE_MEMBERSHIP, else OUTLIER."""
    strength = np.asarray(model.hdbscan_model.probabilities_)
    return np.where(strength >= CORE_MEMBERSHIP, topic_ids, OUTLIER)


def _describe_by_core_members(model, texts: list[str], topic_ids: np.ndarray, params: TopicParams) -> None:
    """Topic words from each cluster's core posts only: the posts on a cluster's fringe bring words of the
    neighbouring ones. Mean c_v over three seeds on three real sets rose by 0.016 (8 of 9 fits up, one
    -0.005; 2026-12-01). Every cluster keeps its densest posts, so no topic loses its words, and BERTopic
    keeps the topic embeddings (the centroids of all members) when the set of topics is unchanged; when it
    would change (no outliers before), the words stay those of all members."""
    core = core_members(model, topic_ids)
    if set(core.tolist()) != set(topic_ids.tolist()):
        return
    _quiet_bertopic()  # update_topics warns about custom assignments: the topics are the same ones
    model.update_topics(
        texts, topics=core.tolist(), top_n_words=params.top_words,
        vectorizer_model=tokenizer(params.exclude_words), ctfidf_model=_ctfidf(params),
    )  # fmt: skip


def _reassign_outliers(model, vectors, topic_ids, probabilities, params: TopicParams):
    """HDBSCAN's outliers join their nearest topic when similar enough (`nearest_topic`, the "embeddings"
    strategy of BERTopic's reduce_outliers); a post's probability is then its cosine similarity to its
    topic's embedding (as `transform`). The topic words stay those of the clusters HDBSCAN found: recounting
    them over the reassigned posts too (`update_topics`) blurred them, c_v 0.515 against 0.534 on the brand
    tweets and 0.529 against 0.541 on the page posts (2026-12-01). No topics are merged: the clusterer
    already stays under the cap."""
    outliers = topic_ids == OUTLIER
    if params.outlier_threshold is None or not outliers.any() or outliers.all():
        return topic_ids, probabilities
    topic_ids = topic_ids.copy()
    topic_ids[outliers] = nearest_topic(model, vectors[outliers], params.outlier_threshold)[0]
    return topic_ids, _similarity_to_topic(model, vectors, topic_ids)


def nearest_topic(model, vectors: np.ndarray, outlier_threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's most similar real topic embedding and the cosine similarity to it; OUTLIER (similarity
    0) below `outlier_threshold`, or when the model has no real topic. One rule for the fit's outliers and for
    the posts that arrive between refits. The outliers' own mean embedding never counts: it sits near
    everything."""
    ids, embeddings = _topic_embeddings(model)
    real = ids != OUTLIER
    if not real.any():
        return np.full(len(vectors), OUTLIER), np.zeros(len(vectors))
    vectors = unit_rows(vectors)
    similarity = vectors @ embeddings[real].T
    best = similarity.argmax(axis=1)
    topic_ids, score = ids[real][best], similarity[np.arange(len(vectors)), best].astype(float)
    if outlier_threshold is not None:
        topic_ids = np.where(score >= outlier_threshold, topic_ids, OUTLIER)
    return topic_ids, np.where(topic_ids == OUTLIER, 0.0, np.clip(score, 0.0, 1.0))


def _topic_embeddings(model) -> tuple[np.ndarray, np.ndarray]:
    """(topic ids, their unit embeddings), row for row: BERTopic keeps `topic_embeddings_` in topic order,
    the outliers' mean first when there are outliers."""
    embeddings = unit_rows(model.topic_embeddings_)
    return np.asarray(sorted(model.get_topics())), embeddings


def _similarity_to_topic(model, vectors: np.ndarray, topic_ids: np.ndarray) -> np.ndarray:
    ids, embeddings = _topic_embeddings(model)
    similarity = np.zeros(len(topic_ids), dtype=float)
    for topic, embedding in zip(ids, embeddings, strict=True):
        members = topic_ids == topic
        if topic != OUTLIER and members.any():
            similarity[members] = vectors[members] @ embedding
    return np.clip(similarity, 0.0, 1.0)


def _assignments(
    posts: pd.DataFrame, topic_ids: np.ndarray, probability: np.ndarray, fit_id: str, method: str | np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": posts["post_id"].to_numpy(),
            "platform": posts["platform"].to_numpy(),
            "topic_id": topic_ids.astype("int64"),
            "probability": probability.astype("float64"),
            "fit_id": fit_id,
            "method": method,
        }
    )


def topic_words(model, topic_id: int) -> list[str]:
    words = model.get_topic(topic_id) or []
    return [word for word, _ in words if word]


def topic_coherence(model, texts: list[str], params: TopicParams) -> dict[int, float]:
    """c_v coherence per topic (gensim), on the tokens of up to `coherence_sample` posts (a seeded sample)."""
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    topic_ids = sorted(t for t in model.get_topics() if t != OUTLIER)
    if not topic_ids:
        return {}
    rng = np.random.default_rng(params.seed)
    if len(texts) > params.coherence_sample:
        texts = [texts[i] for i in sorted(rng.choice(len(texts), params.coherence_sample, replace=False))]
    analyzer = tokenizer(params.exclude_words).build_analyzer()
    tokens = [words for words in (analyzer(text) for text in texts) if words]
    dictionary = Dictionary(tokens)
    word_lists, kept = [], []
    for topic_id in topic_ids:
        words = [w for w in topic_words(model, topic_id) if w in dictionary.token2id]
        if len(words) >= 2:
            word_lists.append(words)
            kept.append(topic_id)
    if not word_lists:
        return {}
    scores = CoherenceModel(
        topics=word_lists, texts=tokens, dictionary=dictionary, coherence="c_v", topn=params.top_words, processes=1
    ).get_coherence_per_topic()
    return {topic_id: float(score) for topic_id, score in zip(kept, scores, strict=True) if np.isfinite(score)}


def topic_table(
    model,
    posts: pd.DataFrame,
    vectors: np.ndarray,
    assignments: pd.DataFrame,
    coherence: dict[int, float],
    params: TopicParams,
    fit_id: str,
) -> pd.DataFrame:
    """One row per topic (the outliers as topic -1): label, words, size, and the posts closest to the
    topic's embedding as its representative posts (by post id, so they link into the store)."""
    sizes = assignments["topic_id"].value_counts()
    fitted_at = pd.Timestamp.now(tz="UTC")
    rows = []
    for topic_id, centre in zip(*_topic_embeddings(model), strict=True):
        topic_id = int(topic_id)
        words = topic_words(model, topic_id)
        members = np.flatnonzero(assignments["topic_id"].to_numpy() == topic_id)
        if len(members) and topic_id != OUTLIER:
            closest = members[np.argsort(-(vectors[members] @ centre))[: params.representative_posts]]
        else:
            closest = members[: params.representative_posts]
        rows.append(
            {
                "topic_id": int(topic_id),
                "label": "outliers" if topic_id == OUTLIER else ", ".join(words[:3]) or f"topic {topic_id}",
                "top_words": words,
                "size": int(sizes.get(topic_id, 0)),
                "share": float(sizes.get(topic_id, 0) / len(assignments)) if len(assignments) else 0.0,
                "coherence": coherence.get(topic_id),
                "representative_post_ids": posts["post_id"].to_numpy()[closest].tolist(),
                "representative_texts": [t[:280] for t in posts["text"].fillna("").astype(str).to_numpy()[closest]],
                "fit_id": fit_id,
                "fitted_at": fitted_at,
            }
        )
    return pd.DataFrame(rows, columns=TOPIC_COLUMNS)


def assign_topics(
    model, posts: pd.DataFrame, vectors: np.ndarray, fit_id: str, outlier_threshold: float | None
) -> pd.DataFrame:
    """Posts that arrived since the fit, each assigned to the nearest topic (`nearest_topic`; probability =
    cosine similarity), or left an outlier below `outlier_threshold`, as the fit treats HDBSCAN's outliers.
    Not BERTopic's `transform` on a model loaded from safetensors, which also weighs the outliers' own mean
    embedding: it took 5 of 15 new posts of a clear theme."""
    if len(posts) == 0:
        return pd.DataFrame(columns=ASSIGNMENT_COLUMNS)
    topic_ids, score = nearest_topic(model, vectors, outlier_threshold)
    return _assignments(posts, topic_ids, score, fit_id, "transform")


def fit_and_save(posts: pd.DataFrame, vectors: np.ndarray, params: TopicParams, folder: Path, info: dict) -> TopicFit:
    """Fit on every post (or conversation, `params.unit`), or on a seeded sample of `max_fit_posts` when there
    are more (UMAP and HDBSCAN grow faster than linearly); save the model; assign those left out of the
    sample with the saved model, as later batches will be. Every post then takes its conversation's topic;
    topic sizes count posts."""
    fit_id = new_fit_id()
    units, unit_vectors, unit_of_post = fit_units(posts, vectors, params)
    sample = np.arange(len(units))
    if len(units) > params.max_fit_posts:
        rng = np.random.default_rng(params.seed)
        sample = np.sort(rng.choice(len(units), params.max_fit_posts, replace=False))
    fit = fit_topics(units.iloc[sample].reset_index(drop=True), unit_vectors[sample], params, fit_id)
    unit = "conversation" if len(units) < len(posts) else "post"
    save_model(
        fit.model, folder, fit_id,
        {**info, "posts": len(posts), "unit": unit, "units": len(units), "fitted_on": len(sample),
         "coherence": fit.coherence},
    )  # fmt: skip
    if len(sample) < len(units):
        rest = np.setdiff1d(np.arange(len(units)), sample)
        saved = load_model(folder / fit_id)
        extra = assign_topics(
            saved, units.iloc[rest].reset_index(drop=True), unit_vectors[rest], fit_id, params.outlier_threshold
        )
        fit.assignments = pd.concat([fit.assignments, extra], ignore_index=True)
    by_unit = fit.assignments.set_index("post_id").loc[units["post_id"].to_numpy()]
    per_post = by_unit.iloc[unit_of_post]  # every post takes its unit's topic
    topic_ids, probability, method = (per_post[c].to_numpy() for c in ("topic_id", "probability", "method"))
    fit.assignments = _assignments(posts, topic_ids, probability, fit_id, method)
    fit.topics = with_sizes(fit.topics, fit.assignments)
    return fit


def fit_units(posts: pd.DataFrame, vectors: np.ndarray, params: TopicParams):
    """What topics are fitted on, their vectors, and each post's unit (row index): the posts themselves, or
    with `unit: conversation` each conversation as one document (`conversations`), when there are enough of
    them to fit (`min_posts_to_fit`; else the posts)."""
    identity = (posts, vectors, np.arange(len(posts)))
    if params.unit != "conversation" or "parent_post_id" not in posts:
        return identity
    units, unit_vectors, unit_of_post = conversations(posts, vectors)
    if len(units) == len(posts) or len(units) < min_posts_to_fit(params):  # no replies, or too few to fit
        return identity
    return units, unit_vectors, unit_of_post


def conversations(posts: pd.DataFrame, vectors: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Posts joined into conversations by their reply links (parent_post_id, followed to the first post
    whose parent is not among them): one document per conversation, its texts in the posts' order, its
    vector the normalised mean of its posts'. A customer's "my order never came" and the reply "sorry, DM
    us your order number" are one issue; apart, the agents' stock replies form topics of their own (c_v on
    the customer-care tweets over seeds 42 / 1 / 2: 0.455 / 0.487 / 0.457 by post, 0.542 / 0.618 / 0.536 by
    conversation, 2026-12-01). The document takes the id of the conversation's first post, which the store
    has."""
    post_ids = posts["post_id"].to_numpy()
    row = {post_id: i for i, post_id in enumerate(post_ids)}
    parents = posts["parent_post_id"].to_numpy()
    parent_row = np.array([row.get(parent, -1) if isinstance(parent, str) else -1 for parent in parents])
    root = np.where(parent_row >= 0, parent_row, np.arange(len(posts)))  # one reply up; a first post stays
    for _ in range(64):  # pointer doubling: every post reaches its first post in log2(depth) steps
        higher = root[root]
        if (higher == root).all():
            break  # (a reply cycle, which only a broken export has, never settles: 64 steps end it)
        root = higher
    roots, unit_of_post = np.unique(root, return_inverse=True)
    joined = posts["text"].fillna("").astype(str).groupby(unit_of_post).agg(" ".join).to_numpy()
    sums = np.zeros((len(roots), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, unit_of_post, vectors)
    unit_vectors = unit_rows(sums)
    units = pd.DataFrame({"post_id": post_ids[roots], "platform": posts["platform"].to_numpy()[roots], "text": joined})
    return units, unit_vectors, unit_of_post


def with_sizes(topics: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    sizes = assignments["topic_id"].value_counts()
    size = topics["topic_id"].map(sizes).fillna(0).astype("int64")
    return topics.assign(size=size, share=size / len(assignments) if len(assignments) else 0.0)


# --- the saved model ------------------------------------------------------------------------------------


def save_model(model, folder: Path, fit_id: str, info: dict) -> Path:
    """Save under `folder/<fit_id>` (safetensors + c-TF-IDF + fit.json; `folder` local or on object storage):
    written in a local scratch folder, published whole, then `folder/current.json` is pointed at it: a reader
    never sees a half-written model."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / fit_id
    scratch = scratch_folder(final)
    _quiet_bertopic()
    try:
        model.save(str(scratch), serialization="safetensors", save_ctfidf=True, save_embedding_model=False)
        (scratch / "fit.json").write_text(json.dumps({"fit_id": fit_id, **info}, indent=1, default=str))
        publish_folder(scratch, final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_bytes_atomically(folder / "current.json", json.dumps({"fit_id": fit_id}).encode())
    return final


def _quiet_bertopic() -> None:
    """BERTopic warns on every save and load that no embedding model is attached: by design here (the
    vectors come from post_embeddings), so the warning would only alarm people reading the run log."""
    import logging

    logging.getLogger("BERTopic").setLevel(logging.ERROR)


def current_fit(folder: Path) -> dict | None:
    """The current fit's fit.json (with its `path`), or None when no model was fitted yet."""
    pointer = folder / "current.json"
    if not pointer.exists():
        return None
    fit_id = json.loads(pointer.read_text())["fit_id"]
    path = folder / fit_id
    if not (path / "fit.json").exists():
        return None
    return {**json.loads((path / "fit.json").read_text()), "path": str(path)}


def load_model(path: str | Path):
    from bertopic import BERTopic

    _quiet_bertopic()
    try:
        return BERTopic.load(str(local_folder(UPath(path))))
    except (OSError, ValueError, KeyError) as error:
        raise TopicModelError(f"topic model in {path} could not be loaded: {error}") from None


def prune_fits(folder: Path, keep: int = 3) -> list[str]:
    """Remove all but the newest `keep` fits (and the current one)."""
    current = (current_fit(folder) or {}).get("fit_id")
    fits = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    removed = []
    for path in fits[:-keep]:
        if path.name != current:
            if is_local(path):
                shutil.rmtree(path)
            else:
                path.fs.rm(path.path, recursive=True)
            removed.append(path.name)
    return removed
