"""Phase 3 on the demo data: the metrics agree with pandas over the same Parquet files, levels say what
the numbers rest on, the report is written where the asset metadata says, the checks pass."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlds_assets.core.analytics import CROSS_PLATFORM, LakeFiles, connect, scope_metrics, series, value


def lake_frames(settings, platform: str, asset: str) -> pd.DataFrame:
    files = sorted((Path(settings.lake_base) / platform / asset).glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def metrics_of(settings, scope: str, asset: str = "platform_metrics") -> pd.DataFrame:
    return pd.read_parquet(Path(settings.lake_base) / scope / f"{asset}.parquet")


@pytest.mark.parametrize("platform", ["facebook", "customer_care"])
def test_platform_metrics_agree_with_pandas_on_the_same_parquet_files(demo_settings, platform):
    settings = demo_settings
    metrics = metrics_of(settings, platform)
    posts = (
        lake_frames(settings, platform, "cleaned_posts")
        .sort_values("ingested_at")
        .drop_duplicates("post_id", keep="last")
    )
    assert value(metrics, "posts") == len(posts)
    daily = posts.groupby(posts["created_at"].dt.strftime("%Y-%m-%d")).size()
    assert series(metrics, "volume_daily").astype(int).to_dict() == daily.to_dict()

    engaged = posts[posts[["likes", "comments", "shares"]].notna().any(axis=1)]
    if len(engaged):
        per_post = engaged[["likes", "comments", "shares"]].fillna(0).sum(axis=1).mean()
        assert value(metrics, "engagement_per_post") == pytest.approx(per_post)

    scores = lake_frames(settings, platform, "sentiment_scores").drop_duplicates("post_id", keep="last")
    scored = posts.merge(scores, on="post_id")
    shares = scored["sentiment_label"].astype(str).value_counts(normalize=True)
    assert series(metrics, "sentiment_share").to_dict() == pytest.approx(shares.to_dict())
    assert value(metrics, "sentiment_mean") == pytest.approx(scored["sentiment_score"].mean())

    conservative = lake_frames(settings, platform, "conservative_entities")[["post_id", "entity_id"]]
    mentions = pd.read_parquet(Path(settings.lake_base) / CROSS_PLATFORM / "entity_mentions.parquet")
    linked = mentions[mentions["canonical_id"].notna() & (mentions["link"] != "rejected")]
    linked = linked[linked["platform"] == platform].rename(columns={"canonical_id": "entity_id"})
    pairs = pd.concat([conservative, linked[["post_id", "entity_id"]]]).drop_duplicates()
    pairs = pairs[pairs["post_id"].isin(set(posts["post_id"]))]
    voice = pairs.groupby("entity_id")["post_id"].nunique() / pairs["post_id"].nunique()
    assert series(metrics, "share_of_voice").to_dict() == pytest.approx(voice.to_dict())

    level = set(metrics["processing_level"])
    assert level == {"full"}  # the demo runs sentiment and embeddings on everything
    assert set(metrics["sentiment_coverage"]) == {1.0} and set(metrics["semantic_coverage"]) == {1.0}


def test_customer_care_response_times_come_from_reply_threads(demo_settings):
    posts = lake_frames(demo_settings, "customer_care", "cleaned_posts").drop_duplicates("post_id")
    replies = posts.merge(posts, left_on="parent_post_id", right_on="post_id", suffixes=("", "_parent"))
    replies = replies[
        (replies["author"] != replies["author_parent"]) & (replies["created_at"] >= replies["created_at_parent"])
    ]
    minutes = (replies["created_at"] - replies["created_at_parent"]).dt.total_seconds() / 60
    metrics = metrics_of(demo_settings, "customer_care")
    assert value(metrics, "responses") == len(replies) > 0
    assert value(metrics, "response_minutes_median") == pytest.approx(minutes.median())
    assert value(metrics, "response_minutes_p90") == pytest.approx(minutes.quantile(0.9))


def test_cross_platform_metrics_add_up_and_the_report_is_where_the_metadata_says(demo_settings):
    cross = metrics_of(demo_settings, CROSS_PLATFORM, "cross_platform_metrics")
    per_platform = {p: value(metrics_of(demo_settings, p), "posts") for p in demo_settings.platforms}
    assert series(cross, "platform_posts").to_dict() == per_platform
    assert value(cross, "posts") == sum(per_platform.values())
    assert len(series(cross, "topic_posts"))  # the cross-platform topics
    weekly = series(cross, "entity_sentiment_weekly")  # issue 19: sentiment per entity over time
    assert len(weekly) and all("|" in key for key in weekly.index)

    folder = sorted((demo_settings.reports_dir).iterdir())[-1]
    assert {p.name for p in folder.iterdir()} == {"report.html", "metrics.parquet", "metrics.csv"}
    exported = pd.read_csv(folder / "metrics.csv")
    assert set(exported["scope"]) == {*demo_settings.platforms, CROSS_PLATFORM}
    html = (folder / "report.html").read_text()
    assert html.count("<svg") >= 6 and "http" not in html.replace("http://www.w3.org/2000/svg", "")  # no CDN


@pytest.mark.launched
def test_phase1_only_data_is_labelled_basic(tmp_path, settings, instance, export, settle):
    from mlds_assets.service.ingest import ingest

    assert ingest(settings, export, "facebook", instance)["launched"] == "webserver"
    settle()
    metrics = scope_metrics(connect(LakeFiles(settings.lake_base, ("facebook",))), "facebook")
    assert set(metrics["processing_level"]) == {"basic"}
    assert set(metrics["sentiment_coverage"]) == {0.0}
    assert value(metrics, "sentiment_mean") is None and value(metrics, "posts") == 120


def test_analytics_run_daily_at_six_with_a_freshness_policy(settings, instance):
    from datetime import datetime, timezone

    from dagster import AssetKey, evaluate_automation_conditions

    from mlds_assets.definitions import build_definitions

    defs = build_definitions(settings)
    keys = [AssetKey([p, "platform_metrics"]) for p in settings.platforms]
    keys += [AssetKey([CROSS_PLATFORM, "cross_platform_metrics"]), AssetKey([CROSS_PLATFORM, "reports"])]
    for key in keys:
        policy = defs.resolve_assets_def(key).specs_by_key[key].freshness_policy
        assert policy is not None and "0 6 * * *" in str(policy), key

    def evaluate(when, cursor=None):
        return evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=when, cursor=cursor)

    early = evaluate(datetime(2026, 11, 28, 5, 59, tzinfo=timezone.utc))
    assert all(early.get_num_requested(k) == 0 for k in keys)
    six = evaluate(datetime(2026, 11, 28, 6, 1, tzinfo=timezone.utc), early.cursor)
    assert all(six.get_num_requested(k) == 1 for k in keys)  # one run: metrics, then the report


def test_the_daily_assets_checks_are_about_their_data_and_start_no_server(settings):
    """The API's latency is measured in `make bench` (benchmarks/api.py), not by a check inside the daily run."""
    import mlds_assets
    from mlds_assets.definitions import build_definitions

    checks = build_definitions(settings).resolve_asset_graph().asset_check_keys
    names = {key.name for key in checks if key.asset_key.path[0] == CROSS_PLATFORM}
    assert {"platform_metrics_current", "cross_platform_complete"} <= names
    assert "api_latency" not in {key.name for key in checks}
    assert not (Path(mlds_assets.__file__).parent / "api_load.py").exists()  # moved to benchmarks/
