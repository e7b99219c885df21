"""Small inline-SVG charts for the HTML report: no JavaScript, no CDN, readable in any browser and in a
mail client, and testable as markup."""

from __future__ import annotations

from html import escape

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D"]
SENTIMENT_COLOURS = {"negative": "#E45756", "neutral": "#BAB0AC", "positive": "#54A24B"}


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def bar_chart(title: str, labels: list[str], values: list[float], width: int = 560, unit: str = "") -> str:
    """Horizontal bars with their values written at the end, so the numbers are in the page too."""
    if not labels:
        return f'<p class="empty">{escape(title)}: no data yet</p>'
    row, left = 22, 170
    height = row * len(labels) + 30
    top = max(max(values), 1e-9)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 24 + i * row
        length = max(0.0, value) / top * (width - left - 70)
        bars.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label[:28])}</text>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{row - 6}" fill="{PALETTE[0]}"/>'
            f'<text x="{left + length + 4:.1f}" y="{y + 13}" class="value">{_number(value)}{unit}</text>'
        )
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" class="title">{escape(title)}</text>'
        + "".join(bars)
        + "</svg>"
    )


def line_chart(title: str, series: dict[str, list[tuple[str, float]]], width: int = 560, height: int = 220) -> str:
    """One line per series over shared x labels (days), with a legend."""
    points = [p for values in series.values() for p in values]
    if not points:
        return f'<p class="empty">{escape(title)}: no data yet</p>'
    days = sorted({x for x, _ in points})
    low, high = min(0.0, min(v for _, v in points)), max(v for _, v in points)
    span = (high - low) or 1.0
    left, right, top, bottom = 40, width - 10, 24, height - 40

    def xy(day: str, value: float) -> str:
        x = left + (days.index(day) / max(len(days) - 1, 1)) * (right - left)
        y = bottom - (value - low) / span * (bottom - top)
        return f"{x:.1f},{y:.1f}"

    lines, legend = [], []
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(xy(d, v) for d, v in values)
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        legend.append(f'<text x="{left + i * 120}" y="{height - 6}" fill="{colour}">{escape(name)}</text>')
    axis = (
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>'
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_number(high)}</text>'
        f'<text x="{left - 4}" y="{bottom}" text-anchor="end">{_number(low)}</text>'
        f'<text x="{left}" y="{bottom + 14}">{days[0]}</text>'
        f'<text x="{right}" y="{bottom + 14}" text-anchor="end">{days[-1]}</text>'
    )
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" class="title">{escape(title)}</text>'
        + axis
        + "".join(lines)
        + "".join(legend)
        + "</svg>"
    )


def stacked_shares(title: str, rows: dict[str, dict[str, float]], width: int = 560) -> str:
    """One 100% bar per row (platform) split by sentiment label, shares written inside."""
    if not rows:
        return f'<p class="empty">{escape(title)}: no data yet</p>'
    row, left = 24, 130
    height = row * len(rows) + 30
    out = []
    for i, (name, shares) in enumerate(rows.items()):
        y, x = 24 + i * row, float(left)
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(name)}</text>')
        for label, colour in SENTIMENT_COLOURS.items():
            share = shares.get(label, 0.0)
            w = share * (width - left - 10)
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="{colour}"/>')
            if share >= 0.08:
                out.append(f'<text x="{x + 4:.1f}" y="{y + 14}" class="inside">{share:.0%}</text>')
            x += w
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" class="title">{escape(title)}</text>'
        + "".join(out)
        + "</svg>"
    )
