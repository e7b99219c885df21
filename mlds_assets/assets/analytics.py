"""Phase 3, daily: platform_metrics per platform, cross_platform_metrics, and the reports (Parquet, CSV and
one HTML page per day). DuckDB reads the lake's Parquet files directly; every asset runs at the
analytics cron and carries a cron freshness policy, so the UI shows when a morning's numbers are late."""

import json

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from mlds_assets.assets.automation import cron_freshness
from mlds_assets.core.analytics import CROSS_PLATFORM, LakeFiles, connect, scope_metrics, value
from mlds_assets.core.report import write_report
from mlds_assets.core.upaths import is_local
from mlds_assets.lake import read_lake_partition
from mlds_assets.settings import Settings

PHASE2 = ("cleaned_posts", "conservative_entities", "sentiment_scores", "post_embeddings", "topic_assignments")
CROSS_METRICS = AssetKey([CROSS_PLATFORM, "cross_platform_metrics"])
REPORTS = AssetKey([CROSS_PLATFORM, "reports"])


def daily_condition(settings: Settings) -> AutomationCondition:
    cron = settings.analytics.schedule
    return (
        AutomationCondition.cron_tick_passed(cron, "UTC")
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label(f"daily at {cron} UTC")


def daily_freshness(settings: Settings) -> FreshnessPolicy:
    return cron_freshness(settings.analytics.schedule)


def _metadata(metrics: pd.DataFrame) -> dict:
    level = str(metrics["processing_level"].iloc[0]) if len(metrics) else "basic"
    voice = metrics[metrics["metric"] == "share_of_voice"].nlargest(10, "value")
    return {
        "dagster/row_count": len(metrics),
        "processing_level": level,
        "posts": int(value(metrics, "posts") or 0),
        "sentiment_coverage": float(metrics["sentiment_coverage"].iloc[0]) if len(metrics) else 0.0,
        "semantic_coverage": float(metrics["semantic_coverage"].iloc[0]) if len(metrics) else 0.0,
        "sentiment_mean": value(metrics, "sentiment_mean") or 0.0,
        "share_of_voice": MetadataValue.md(
            voice[["key", "value"]]
            .rename(columns={"key": "entity", "value": "share"})
            .to_markdown(index=False, floatfmt=".3f")
            if len(voice)
            else "_no entities yet_"
        ),
    }


def lake_files(settings: Settings) -> LakeFiles:
    return LakeFiles(settings.lake_base, tuple(sorted(settings.platforms)))


def build_platform_metrics(settings: Settings, platform: str) -> AssetsDefinition:
    @asset(
        key=[platform, "platform_metrics"],
        deps=[AssetKey([platform, a]) for a in PHASE2] + [AssetKey([CROSS_PLATFORM, "entity_mentions"])],
        group_name=platform,
        kinds={"duckdb", "parquet"},
        automation_condition=daily_condition(settings),
        freshness_policy=daily_freshness(settings),
        description=f"{platform} metrics over every batch: volume, engagement, sentiment and its trend, share of "
        "voice and sentiment per entity, topics and their sentiment, response times; with processing_level, "
        "coverage and last_updated on every row.",
    )
    def platform_metrics(context: AssetExecutionContext) -> Output[pd.DataFrame]:
        metrics = scope_metrics(connect(lake_files(settings)), platform)
        context.log.info(f"{len(metrics)} metric rows for {platform} at {metrics['processing_level'].iloc[0]}")
        return Output(metrics, metadata=_metadata(metrics))

    return platform_metrics


def build_cross_platform_metrics(settings: Settings) -> AssetsDefinition:
    platforms = sorted(settings.platforms)

    @asset(
        key=CROSS_METRICS,
        deps=[AssetKey([p, "platform_metrics"]) for p in platforms] + [AssetKey([CROSS_PLATFORM, "topic_assignments"])],
        group_name=CROSS_PLATFORM,
        kinds={"duckdb", "parquet"},
        automation_condition=daily_condition(settings),
        freshness_policy=daily_freshness(settings),
        description="The same metrics over every platform's posts, plus posts per platform and per entity and "
        "platform; topics are the cross-platform ones. Its level is the weakest of the platforms'.",
    )
    def cross_platform_metrics(context: AssetExecutionContext) -> Output[pd.DataFrame]:
        metrics = scope_metrics(connect(lake_files(settings)), CROSS_PLATFORM)
        return Output(metrics, metadata=_metadata(metrics))

    return cross_platform_metrics


def build_reports(settings: Settings) -> AssetsDefinition:
    platforms = sorted(settings.platforms)

    @asset(
        key=REPORTS,
        deps=[CROSS_METRICS] + [AssetKey([p, "platform_metrics"]) for p in platforms],
        group_name=CROSS_PLATFORM,
        kinds={"html", "csv", "parquet"},
        automation_condition=daily_condition(settings),
        freshness_policy=daily_freshness(settings),
        description=f"The day's report under {settings.reports_dir}/<date>/: report.html (self-contained, inline "
        "SVG charts) and every metric as metrics.parquet and metrics.csv.",
    )
    def reports(context: AssetExecutionContext) -> MaterializeResult:
        per_platform = {}
        for name in platforms:
            metrics = read_lake_partition(settings.lake_base, [name, "platform_metrics"], None)
            if metrics is not None:
                per_platform[name] = metrics
        cross = read_lake_partition(settings.lake_base, list(CROSS_METRICS.path), None)
        if cross is None:
            raise FileNotFoundError("cross_platform_metrics has not been materialised yet")
        now = pd.Timestamp.now(tz="UTC")
        files = write_report(
            settings.reports_dir / f"{now:%Y-%m-%d}", per_platform, cross, now, settings.analytics.report_top
        )
        context.log.info(f"report written to {files['html']}")
        return MaterializeResult(
            metadata={
                "report": MetadataValue.path(str(files["html"])),
                "report_url": MetadataValue.url(
                    files["html"].resolve().as_uri() if is_local(files["html"]) else str(files["html"])
                ),
                "metrics_parquet": MetadataValue.path(str(files["parquet"])),
                "metrics_csv": MetadataValue.path(str(files["csv"])),
                "platforms": len(per_platform),
                "levels": MetadataValue.json(
                    {name: str(m["processing_level"].iloc[0]) for name, m in per_platform.items() if len(m)}
                ),
            }
        )

    return reports


def build_analytics_checks(settings: Settings) -> list[AssetChecksDefinition]:
    platforms = sorted(settings.platforms)

    @asset_check(
        asset=CROSS_METRICS,
        name="platform_metrics_current",
        description="Every platform's metrics were computed after its latest ingested batch.",
    )
    def platform_metrics_current() -> AssetCheckResult:
        stale = {}
        con = connect(lake_files(settings))
        latest = dict(con.execute("SELECT platform, max(ingested_at) FROM posts GROUP BY 1").fetchall())
        for name in platforms:
            metrics = read_lake_partition(settings.lake_base, [name, "platform_metrics"], None, ["last_updated"])
            ingested = latest.get(name)
            if ingested is None:
                continue
            updated = metrics["last_updated"].max() if metrics is not None and len(metrics) else None
            if updated is None or pd.Timestamp(updated) < pd.Timestamp(ingested):
                stale[name] = f"metrics {updated or 'missing'}, last batch {ingested}"
        return AssetCheckResult(
            passed=not stale,
            severity=AssetCheckSeverity.ERROR,
            metadata={"stale": MetadataValue.json(stale), "platforms_checked": len(latest)},
        )

    @asset_check(
        asset=CROSS_METRICS,
        name="cross_platform_complete",
        description="Every platform with posts is in the cross-platform metrics, and their posts add up.",
        additional_deps=[AssetKey([p, "platform_metrics"]) for p in platforms],
    )
    def cross_platform_complete(cross_platform_metrics: pd.DataFrame) -> AssetCheckResult:
        con = connect(lake_files(settings))
        with_posts = dict(con.execute("SELECT platform, count(*) FROM posts GROUP BY 1").fetchall())
        counted = cross_platform_metrics[cross_platform_metrics["metric"] == "platform_posts"]
        counted = dict(zip(counted["key"], counted["value"].astype(int), strict=True))
        missing = sorted(set(with_posts) - set(counted))
        total = value(cross_platform_metrics, "posts") or 0
        return AssetCheckResult(
            passed=not missing and counted == with_posts and total == sum(with_posts.values()),
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "platforms": len(counted),
                "missing": json.dumps(missing),
                "posts": int(total),
                "posts_in_lake": int(sum(with_posts.values())),
            },
        )

    return [platform_metrics_current, cross_platform_complete, *[_level_check(p) for p in platforms]]


def _level_check(platform: str) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey([platform, "platform_metrics"]),
        name="labelled_by_processing_level",
        description="Metrics resting on phase-1 data alone (or a partly enriched platform) are labelled basic; "
        "sentiment_complete and full only where every post has sentiment (and a vector).",
        blocking=True,
    )
    def labelled_by_processing_level(platform_metrics: pd.DataFrame) -> AssetCheckResult:
        from mlds_assets.core.metrics import processing_level

        expected = platform_metrics.apply(
            lambda r: processing_level(r["sentiment_coverage"], r["semantic_coverage"]), axis=1
        )
        wrong = platform_metrics[platform_metrics["processing_level"] != expected] if len(platform_metrics) else []
        return AssetCheckResult(
            passed=len(wrong) == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={"rows": len(platform_metrics), "mislabelled": len(wrong)},
        )

    return labelled_by_processing_level
