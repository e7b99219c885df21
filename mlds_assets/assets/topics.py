"""topics per platform and across platforms: BERTopic over post_embeddings, refitted on the weekly
schedule when enough new posts arrived (or when forced), new posts assigned to the current topics in
between. Each scope is a multi-asset: `<scope>/topics` (the topic table) and `<scope>/topic_assignments`
(post -> topic, which the post store picks up). Nothing to do means nothing materialised, so the store
does not re-sync for nothing."""

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    AutomationCondition,
    Config,
    MetadataValue,
    Output,
    asset_check,
    multi_asset,
)

from mlds_assets.assets.automation import POOL_MODELS
from mlds_assets.core.entities import EntityDictionary
from mlds_assets.core.topics import (
    OUTLIER,
    TopicParams,
    assign_topics,
    current_fit,
    excluded_words,
    fit_and_save,
    load_model,
    mean_coherence,
    min_posts_to_fit,
    plan_run,
    prune_fits,
    still_assigned,
    with_sizes,
)
from mlds_assets.lake import read_embedded_posts, read_lake_partition
from mlds_assets.settings import Settings

CROSS_PLATFORM = "cross_platform"


class TopicRunConfig(Config):
    force: bool = False  # refit now, however few posts arrived since the last fit


def topic_params(settings: Settings) -> TopicParams:
    t = settings.topics
    exclude = ()
    if t.exclude_entity_words:
        exclude = excluded_words(EntityDictionary.load(settings.entity_dictionary_path))
    return TopicParams(
        seed=t.seed,
        min_topic_size=t.min_topic_size,
        umap_neighbors=t.umap_neighbors,
        umap_components=t.umap_components,
        top_words=t.top_words,
        representative_posts=t.representative_posts,
        coherence_sample=t.coherence_sample,
        max_fit_posts=t.max_fit_posts,
        exclude_words=exclude,
        max_topics_per_10k=t.max_topics_per_10k,
        min_topic_share=t.min_topic_share,
        outlier_threshold=t.outlier_threshold,
        unit=t.unit,
    )


def topics_condition(cron: str | None, full_mode: bool) -> AutomationCondition | None:
    """At the cron tick (the asset decides whether to refit or only assign new posts); in `full` mode also
    whenever a batch's embeddings land, so new posts get a topic without waiting for the week."""
    if cron is None and not full_mode:
        return None
    when = AutomationCondition.cron_tick_passed(cron, "UTC") if cron else None
    if full_mode:
        updated = AutomationCondition.any_deps_updated().since_last_handled()
        when = updated if when is None else when | updated
    return (when & ~AutomationCondition.any_deps_in_progress() & ~AutomationCondition.in_progress()).with_label(
        f"topics at {cron} UTC" if cron else "topics after new embeddings"
    )


def build_topics(settings: Settings, scope: str, platforms: list[str], cron: str | None, full_mode: bool):
    """The topics multi-asset for one scope: a platform, or cross_platform over `platforms`."""
    group = scope
    folder = settings.models_dir / "topics" / scope
    condition = topics_condition(cron, full_mode)
    what = f"{scope} posts" if scope != CROSS_PLATFORM else "every platform's posts together"

    @multi_asset(
        name=f"{scope}_topic_model",
        outs={
            "topics": AssetOut(
                key=AssetKey([scope, "topics"]),
                description=f"BERTopic topics over {what}: id, label, top words, size, c_v coherence, "
                "representative posts. Topic -1 holds the outliers.",
                automation_condition=condition,
                kinds={"pandas", "parquet", "bertopic"},
                group_name=group,
                is_required=False,
            ),
            "topic_assignments": AssetOut(
                key=AssetKey([scope, "topic_assignments"]),
                description=f"Each of {what} -> its topic, with probability, fit id and method (fit | transform).",
                automation_condition=condition,
                kinds={"pandas", "parquet"},
                group_name=group,
                is_required=False,
            ),
        },
        deps=[AssetKey([p, a]) for p in platforms for a in ("post_embeddings", "cleaned_posts")],
        can_subset=False,
        pool=POOL_MODELS,
    )
    def topics_asset(context: AssetExecutionContext, config: TopicRunConfig):
        params = topic_params(settings)  # here, not at load: it imports sklearn, and every run loads the code
        posts, vectors, left_out = read_embedded_posts(settings.lake_base, platforms)
        if left_out:
            context.log.warning(f"{left_out} posts embedded under another model version wait for re-embedding")
        fit = current_fit(folder)
        previous = still_assigned(
            read_lake_partition(settings.lake_base, [scope, "topic_assignments"], None),
            fit["fit_id"] if fit else None,
            posts["post_id"],
        )
        new = ~posts["post_id"].isin(set(previous["post_id"]) if previous is not None else set()).to_numpy()
        plan = plan_run(
            len(posts), int(new.sum()), previous is not None, config.force,
            settings.topics.min_new_records, min_posts_to_fit(params),
        )  # fmt: skip
        context.log.info(f"topics for {scope}: {plan.action} ({plan.reason})")
        if plan.action == "none":
            return  # nothing materialised: no new topics, and no store re-sync for nothing
        if plan.action == "fit":
            context.log.info(f"fitting BERTopic on {min(len(posts), params.max_fit_posts)} of {len(posts)} posts")
            result = fit_and_save(posts, vectors, params, folder, {"scope": scope, "seed": params.seed})
            topics, assignments, fit_id = result.topics, result.assignments, result.fit_id
            pruned = prune_fits(folder)
            if pruned:
                context.log.info(f"removed old topic models {pruned}")
        else:
            model = load_model(fit["path"])
            fresh = assign_topics(
                model, posts.loc[new].reset_index(drop=True), vectors[new], fit["fit_id"], params.outlier_threshold
            )
            assignments = pd.concat([previous, fresh], ignore_index=True)
            stored = read_lake_partition(settings.lake_base, [scope, "topics"], None)
            topics, fit_id = with_sizes(stored, assignments), fit["fit_id"]
        yield from _outputs(topics, assignments, fit_id, plan, posts, settings)

    return topics_asset


def _outputs(topics, assignments, fit_id, plan, posts, settings: Settings):
    real = topics[topics["topic_id"].ne(OUTLIER)]
    outliers = float(assignments["topic_id"].eq(OUTLIER).mean()) if len(assignments) else 0.0
    coherence = mean_coherence(topics)
    table = real.sort_values("size", ascending=False).head(20)
    yield Output(
        topics,
        output_name="topics",
        metadata={
            "dagster/row_count": len(topics),
            "topics": len(real),
            "coherence_c_v": coherence if coherence is not None else float("nan"),
            "outlier_share": outliers,
            "fit_id": fit_id,
            "action": plan.action,
            "reason": plan.reason,
            "posts": len(assignments),
            "table": MetadataValue.md(
                table[["topic_id", "label", "size", "coherence"]].to_markdown(index=False, floatfmt=".3f")
                if len(table)
                else "_no topics: every post is an outlier_"
            ),
        },
    )
    by_platform = assignments.groupby("platform")["topic_id"].apply(lambda t: float(np.mean(t != OUTLIER)))
    yield Output(
        assignments,
        output_name="topic_assignments",
        metadata={
            "dagster/row_count": len(assignments),
            "new_posts_assigned": plan.new_posts,
            "method": plan.action,
            "fit_id": fit_id,
            "in_a_topic_by_platform": MetadataValue.json({k: round(v, 4) for k, v in by_platform.items()}),
        },
    )


def build_topic_checks(settings: Settings, scope: str) -> list[AssetChecksDefinition]:
    threshold, outlier_bound = settings.topics.coherence_threshold, settings.topics.outlier_share_warn

    @asset_check(
        asset=AssetKey([scope, "topics"]),
        name="topic_coherence",
        description=f"Mean c_v coherence of the {scope} topics (gensim, on the posts' tokens) above {threshold}.",
    )  # ERROR, not blocking: the fit is already saved and nothing downstream runs in the topics job
    def topic_coherence(topics: pd.DataFrame) -> AssetCheckResult:
        coherence = mean_coherence(topics)
        return AssetCheckResult(
            passed=coherence is not None and coherence > threshold,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "coherence_c_v": coherence if coherence is not None else float("nan"),
                "threshold": threshold,
                "topics": int(topics["topic_id"].ne(OUTLIER).sum()),
                "fit_id": str(topics["fit_id"].iloc[0]) if len(topics) else "",
            },
            description=None if coherence is not None else "no topics: every post is an outlier",
        )

    @asset_check(
        asset=AssetKey([scope, "topics"]),
        name="topic_outliers",
        description=f"WARN when more than {outlier_bound:.0%} of the {scope} posts fall in no topic.",
    )
    def topic_outliers(topics: pd.DataFrame) -> AssetCheckResult:
        total = int(topics["size"].sum())
        outliers = int(topics.loc[topics["topic_id"].eq(OUTLIER), "size"].sum())
        share = outliers / total if total else 0.0
        return AssetCheckResult(
            passed=share <= outlier_bound,
            severity=AssetCheckSeverity.WARN,
            metadata={"outlier_share": share, "outliers": outliers, "posts": total, "bound": outlier_bound},
        )

    return [topic_coherence, topic_outliers]
