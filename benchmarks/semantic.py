"""`make bench`, embeddings and topics: post_embeddings through Dagster beside a bare
`SentenceTransformer.encode` at the same batch size, and the topics fit beside a bare BERTopic
`fit_transform` with the same components on the same vectors. With ../shared/data present, topics on the
real Facebook page posts, customer-care tweets and brand tweets too (topics, c_v coherence, outliers)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.phase2 import _step_seconds, _timed, timed_run

REAL_DATA = {
    "nyt_facebook": (
        "nytimes_facebook_posts/nytimes_facebook_statuses.csv",
        """
name: nyt_facebook
fields: {native_id: status_id, text: [status_message, link_name], created_at: status_published}
created_at: {format: "%Y-%m-%d %H:%M:%S", timezone: "-05:00"}
""",
    ),
    "twcs": (
        "twcs_sample/twcs_head5000.csv",
        """
name: twcs
fields: {native_id: tweet_id, text: text, author: author_id, created_at: created_at, parent_id: in_response_to_tweet_id}
created_at: {format: "%a %b %d %H:%M:%S %z %Y"}
""",
    ),
    "brand_emotion": (  # SXSW 2011 tweets about Apple and Google products: no ids, no dates
        "brand_product_emotion/judge-1377884607_tweet_product_company.csv",
        """
name: brand_emotion
fields: {text: tweet_text}
required: [native_id, text]
""",
    ),
}


def bench_semantic(rows: int, workdir: str, queue) -> None:
    from dagster import AssetKey, instance_for_test

    from benchmarks.batches import ingested_batch
    from mlds_assets.assets.embeddings import configured_encoder
    from mlds_assets.definitions import build_definitions
    from mlds_assets.settings import load_settings

    work = Path(workdir)
    settings = load_settings(env={"MLDS_HOME": str(work / "home"), "MLDS__EMBEDDINGS__DEVICE": "cpu"})
    out: dict = {"rows": rows, "batch_size": settings.embeddings.batch_size}
    (work / "dagster_home").mkdir()
    with instance_for_test(temp_dir=str(work / "dagster_home")) as instance:
        batch, texts = ingested_batch(settings, work, rows, instance)
        out["posts"] = len(texts)
        encoder, _ = configured_encoder(settings)  # loaded before the clock, on both sides

        def bare(texts: list[str]) -> None:
            encoder.encode(
                texts, batch_size=settings.embeddings.batch_size, normalize_embeddings=True, show_progress_bar=False
            )

        out["embed_bare"] = _timed(bare, texts)
        defs = build_definitions(settings)
        job = defs.resolve_job_def("facebook_embeddings").get_subset(
            asset_selection={AssetKey(["facebook", "post_embeddings"])}, asset_check_selection=set()
        )
        out["embed_asset"], out["embed_step"] = timed_run(job, instance, batch)
        _bench_topics(settings, defs, instance, out)
        out["real"] = _real_topics(work, instance)
    queue.put(out)


def _bench_topics(settings, defs, instance, out: dict) -> None:
    """The topics step (read every vector and text from the lake, fit, coherence, save, write) beside
    BERTopic's own fit_transform on the same vectors with the same UMAP, HDBSCAN and vectorizer."""
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    from mlds_assets.assets.topics import topic_params
    from mlds_assets.core.topics import tokenizer
    from mlds_assets.lake import read_embedded_posts
    from mlds_assets.service.runs import QUIET_RUN

    params = topic_params(settings)
    posts, vectors, _ = read_embedded_posts(settings.lake_base, ["facebook"])
    texts = posts["text"].fillna("").tolist()

    def bare() -> None:
        BERTopic(
            umap_model=UMAP(
                n_neighbors=params.umap_neighbors, n_components=params.umap_components, min_dist=0.0,
                metric="cosine", random_state=params.seed,
            ),
            hdbscan_model=HDBSCAN(min_cluster_size=params.min_topic_size, prediction_data=True),
            vectorizer_model=tokenizer(),
            top_n_words=params.top_words,
        ).fit_transform(texts, vectors)  # fmt: skip

    bare()  # the first fit in a process pays numba's compilation: not part of either side
    out["topics_bare"] = _timed(bare)
    job = defs.resolve_job_def("facebook_topics")
    result = job.execute_in_process(
        instance=instance, run_config={**QUIET_RUN, "ops": {"facebook_topic_model": {"config": {"force": True}}}}
    )
    out["topics_step"] = _step_seconds(instance, result.run_id, "facebook_topic_model")
    meta = _latest(instance, ["facebook", "topics"])
    out["topics_found"], out["topics_coherence"] = meta["topics"], meta["coherence_c_v"]
    out["topics_outliers"] = meta["outlier_share"]


def _latest(instance, path: list[str]) -> dict:
    from dagster import AssetKey

    event = instance.get_latest_materialization_event(AssetKey(path))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def _real_topics(work: Path, instance) -> list[dict]:
    """Topics on the real datasets when ../shared/data is beside the checkout."""
    import shutil

    from mlds_assets.service.enrich import enrich
    from mlds_assets.service.ingest import ingest
    from mlds_assets.settings import DEFAULT_CONFIG_DIR, load_settings

    data = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    if not data.is_dir():
        return []
    config = work / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    for name, (_, yaml) in REAL_DATA.items():
        (config / "platforms" / f"{name}.yaml").write_text(yaml)
    settings = load_settings(config, env={"MLDS_HOME": str(work / "real")})
    rows = []
    for name, (relative, _) in REAL_DATA.items():
        ingest(settings, data / relative, name, instance)
        enrich(settings, "embeddings", name, instance)
        [run, *_] = enrich(settings, "topics", name, instance)
        meta = _latest(instance, [name, "topics"])
        rows.append(
            {
                "dataset": relative.split("/")[0],
                "posts": meta["posts"],
                "topics": meta["topics"],
                "coherence": meta["coherence_c_v"],
                "outliers": meta["outlier_share"],
                "step_s": _step_seconds(instance, run["run_id"], f"{name}_topic_model"),
            }
        )
    return rows


def markdown(r: dict) -> str:
    lines = [
        f"Embeddings and topics, {r['posts']:,} generated posts (encode batch size {r['batch_size']}):",
        "",
        "| stage | bare library (s) | asset step (s) | step / bare | whole run (s) | posts/s (step) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| post_embeddings vs `SentenceTransformer.encode` | {r['embed_bare']:.1f} | {r['embed_step']:.1f} | "
        f"{r['embed_step'] / r['embed_bare']:.2f}x | {r['embed_asset']:.1f} | {r['posts'] / r['embed_step']:,.0f} |",
        f"| topics (fit, c_v coherence, save) vs BERTopic `fit_transform` | {r['topics_bare']:.1f} | "
        f"{r['topics_step']:.1f} | {r['topics_step'] / r['topics_bare']:.2f}x | - | "
        f"{r['posts'] / r['topics_step']:,.0f} |",
        "",
        f"Topic fit on {r['posts']:,} posts: {r['topics_step']:.1f} s; {r['topics_found']} topics, "
        f"c_v coherence {r['topics_coherence']:.3f}, outliers {r['topics_outliers']:.1%}.",
    ]
    if r.get("real"):
        lines += [
            "",
            "| real dataset | posts | topics | topics per 10k posts | c_v coherence | outliers | topics step (s) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in r["real"]:
            lines.append(
                f"| {row['dataset']} | {row['posts']:,} | {row['topics']} | "
                f"{row['topics'] * 10_000 / row['posts']:.1f} | {row['coherence']:.3f} | "
                f"{row['outliers']:.1%} | {row['step_s']:.1f} |"
            )
    return "\n".join(lines) + "\n"
