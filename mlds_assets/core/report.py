"""The daily HTML report: one self-contained page (inline SVG charts and CSS, no scripts, no CDN) that an
analyst opens in the morning, plus the metrics as Parquet and CSV beside it."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from mlds_assets.core.analytics import CROSS_PLATFORM, series, value
from mlds_assets.core.charts import bar_chart, line_chart, stacked_shares

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#222}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0} td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left} .level{padding:1px 6px;border-radius:3px;font-size:12px}
.basic{background:#fde2c8} .sentiment_complete{background:#dcecc8} .full{background:#c8e6d8}
.grid{display:flex;flex-wrap:wrap;gap:18px} .chart text{font:11px system-ui,sans-serif}
.chart .title{font-weight:600;font-size:12px} .chart .inside{fill:#fff} .muted{color:#777} .empty{color:#999}
"""


def _fmt(number: float | None, kind: str = "") -> str:
    if number is None:
        return "–"
    if kind == "%":
        return f"{number:.0%}"
    if kind == "int":
        return f"{number:,.0f}"
    return f"{number:,.2f}"


def _summary_row(scope: str, metrics: pd.DataFrame) -> str:
    level = str(metrics["processing_level"].iloc[0]) if len(metrics) else "basic"
    cells = [
        _fmt(value(metrics, "posts"), "int"),
        _fmt(value(metrics, "engagement_per_post")),
        _fmt(value(metrics, "sentiment_mean")),
        _fmt(float(metrics["sentiment_coverage"].iloc[0]) if len(metrics) else 0.0, "%"),
        _fmt(float(metrics["semantic_coverage"].iloc[0]) if len(metrics) else 0.0, "%"),
        _fmt(value(metrics, "response_minutes_median")),
    ]
    return (
        f'<tr data-scope="{escape(scope)}"><td>{escape(scope)}</td>'
        + "".join(f"<td>{c}</td>" for c in cells)
        + f'<td><span class="level {level}">{level}</span></td></tr>'
    )


def entity_weekly_sentiment(metrics: pd.DataFrame, entities: list[str]) -> dict[str, list[tuple[str, float]]]:
    """entity -> [(week, mean sentiment)] for the given entities, from the "entity|week" keys."""
    weekly = series(metrics, "entity_sentiment_weekly")
    lines: dict[str, list[tuple[str, float]]] = {}
    for key, mean in weekly.items():
        entity, _, week = str(key).rpartition("|")
        if entity in entities:
            lines.setdefault(entity, []).append((week, float(mean)))
    return {entity: sorted(lines[entity]) for entity in entities if entity in lines}


def _topic_table(scope: str, metrics: pd.DataFrame, top: int) -> str:
    """A scope's largest topics with their posts and mean sentiment: across platforms, then each platform's."""
    topics = series(metrics, "topic_posts").sort_values(ascending=False).head(top)
    sentiment = series(metrics, "topic_sentiment_mean")
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td>{n:,.0f}</td><td>{_fmt(sentiment.get(label))}</td></tr>"
        for label, n in topics.items()
    )
    title = "across platforms" if scope == CROSS_PLATFORM else escape(scope)
    return (
        f'<h3>{title}</h3><table class="topics" data-scope="{escape(scope)}">'
        f"<tr><th>topic</th><th>posts</th><th>mean sentiment</th></tr>{rows}</table>"
    )


def report_html(platforms: dict[str, pd.DataFrame], cross: pd.DataFrame, generated_at: pd.Timestamp, top: int) -> str:
    """The page: a summary table (with each scope's processing level, so early numbers read as such), then
    volume, sentiment, share of voice, topics and customer-care response times."""
    scopes = {**platforms, CROSS_PLATFORM: cross}
    header = "".join(
        f"<th>{h}</th>"
        for h in ("scope", "posts", "engagement / post", "mean sentiment", "sentiment coverage", "semantic coverage",
                  "median response (min)", "processing level")
    )  # fmt: skip
    summary = "".join(_summary_row(name, metrics) for name, metrics in scopes.items())
    volume = bar_chart("Posts per platform", list(platforms), [value(m, "posts") or 0 for m in platforms.values()])
    daily = line_chart(
        "Posts per day",
        {name: list(series(m, "volume_daily").items()) for name, m in platforms.items()},
    )
    sentiment = stacked_shares(
        "Sentiment distribution",
        {
            name: series(m, "sentiment_share").to_dict()
            for name, m in scopes.items()
            if len(series(m, "sentiment_share"))
        },
    )
    trend = line_chart(
        "Mean sentiment per day",
        {name: list(series(m, "sentiment_daily_mean").items()) for name, m in platforms.items()},
    )
    voice = series(cross, "share_of_voice").sort_values(ascending=False).head(top)
    share_of_voice = bar_chart("Share of voice, all platforms", list(voice.index), [v * 100 for v in voice], unit="%")
    per_platform_voice = "".join(
        bar_chart(
            f"Share of voice, {name}",
            list(s.index),
            [v * 100 for v in s],
            width=360,
            unit="%",
        )
        for name, m in platforms.items()
        if len(s := series(m, "share_of_voice").sort_values(ascending=False).head(top))
    )
    entity_trend = line_chart(
        "Mean sentiment per entity per week (the entities above)", entity_weekly_sentiment(cross, list(voice.index))
    )
    entity_sentiment = series(cross, "entity_sentiment_mean").reindex(voice.index).dropna()
    entity_chart = bar_chart(
        "Mean sentiment per entity (of the above)", list(entity_sentiment.index), list(entity_sentiment)
    )
    topic_tables = "".join(
        _topic_table(name, metrics, top)
        for name, metrics in {CROSS_PLATFORM: cross, **platforms}.items()
        if len(series(metrics, "topic_posts"))
    )
    care = [
        f"<tr><td>{escape(name)}</td><td>{_fmt(value(m, 'responses'), 'int')}</td>"
        f"<td>{_fmt(value(m, 'response_minutes_median'))}</td><td>{_fmt(value(m, 'response_minutes_p90'))}</td></tr>"
        for name, m in platforms.items()
        if value(m, "responses")
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MLDS report {generated_at:%Y-%m-%d}</title>
<style>{CSS}</style></head><body>
<h1>MLDS daily report — {generated_at:%Y-%m-%d}</h1>
<p class="muted">Generated {generated_at:%Y-%m-%d %H:%M} UTC from the lake. A scope's processing level says what
its numbers rest on: <span class="level basic">basic</span> (phase 1 only, or partly enriched),
<span class="level sentiment_complete">sentiment_complete</span>, <span class="level full">full</span>.</p>
<h2>Summary</h2><table id="summary"><tr>{header}</tr>{summary}</table>
<h2>Volume</h2><div class="grid">{volume}{daily}</div>
<h2>Sentiment</h2><div class="grid">{sentiment}{trend}</div>
<h2>Share of voice</h2><div class="grid">{share_of_voice}{entity_chart}</div>
<div class="grid">{per_platform_voice}</div>
<h2>Sentiment per entity over time</h2><div class="grid">{entity_trend}</div>
<h2>Top topics</h2>
{topic_tables or '<p class="empty">No topics yet: `mlds enrich --only topics`.</p>'}
<h2>Customer care response times</h2>
<table id="care"><tr><th>platform</th><th>replies</th><th>median (min)</th><th>p90 (min)</th></tr>
{"".join(care)}</table>
</body></html>
"""


def write_report(
    folder: Path, platforms: dict[str, pd.DataFrame], cross: pd.DataFrame, generated_at: pd.Timestamp, top: int
) -> dict[str, Path]:
    """The day's folder (local or on object storage): report.html, and every metric as Parquet and CSV, each
    written whole or not at all."""
    from mlds_assets.core.upaths import write_atomically

    folder.mkdir(parents=True, exist_ok=True)
    every = pd.concat([*platforms.values(), cross], ignore_index=True) if platforms else cross
    writers = {
        "html": ("report.html", lambda out: out.write(report_html(platforms, cross, generated_at, top).encode())),
        "parquet": ("metrics.parquet", lambda out: every.to_parquet(out, index=False)),
        "csv": ("metrics.csv", lambda out: out.write(every.to_csv(index=False).encode())),
    }
    files = {}
    for kind, (name, write) in writers.items():
        files[kind] = folder / name
        write_atomically(files[kind], write)
    return files
