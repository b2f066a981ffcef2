"""Charts drawn on the server as SVG: no chart library, no script, readable without CSS.

Each chart is an ``<svg role="img">`` with a title and a description that says in words what
it shows (screen readers read that), and the figures are also in a table beside it.
Colours come from the stylesheet's classes, so the CSP needs no inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 600
HEIGHT = 160
PAD_LEFT = 48
PAD_BOTTOM = 22
PAD_TOP = 10


@dataclass(frozen=True)
class Point:
    label: str
    value: float


def _fmt(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def line_chart(title: str, points: Sequence[Point], unit: str = "") -> Markup:
    """A line over time; an empty series says so instead of drawing axes around nothing."""
    if not points:
        return Markup('<p class="chart-empty">{}: no samples yet.</p>').format(title)
    top = max(p.value for p in points) or 1.0
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(points) - 1, 1)
    coords = [
        (PAD_LEFT + i * step, PAD_TOP + plot_h - (p.value / top) * plot_h)
        for i, p in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    last = points[-1]
    desc = (
        f"{len(points)} points from {points[0].label} to {last.label}; "
        f"latest {_fmt(last.value)} {unit}, highest {_fmt(top)} {unit}."
    )
    return Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-t {id}-d">'
        '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>'
        '<line class="axis" x1="{pl}" y1="{base}" x2="{w}" y2="{base}"/>'
        '<text class="tick" x="{tx}" y="{ty}" text-anchor="end">{top}</text>'
        '<text class="tick" x="{tx}" y="{base}" text-anchor="end">0</text>'
        '<text class="tick" x="{pl}" y="{lb}">{first}</text>'
        '<text class="tick" x="{w}" y="{lb}" text-anchor="end">{lastl}</text>'
        '<polyline class="series" points="{path}"/></svg>'
    ).format(
        w=WIDTH,
        h=HEIGHT,
        id=escape(_slug(title)),
        title=title,
        desc=desc,
        pl=PAD_LEFT,
        base=PAD_TOP + plot_h,
        tx=PAD_LEFT - 4,
        ty=PAD_TOP + 8,
        top=f"{_fmt(top)} {unit}".strip(),
        lb=HEIGHT - 4,
        first=points[0].label,
        lastl=last.label,
        path=path,
    )


def bar_chart(title: str, bars: Sequence[Point]) -> Markup:
    """Horizontal bars with their figures written on them (a handful of categories)."""
    if not bars:
        return Markup('<p class="chart-empty">{}: nothing to show.</p>').format(title)
    top = max(b.value for b in bars) or 1.0
    row_h = 26
    height = row_h * len(bars) + 6
    label_w = 150
    plot_w = WIDTH - label_w - 60
    parts = []
    for i, bar in enumerate(bars):
        y = 4 + i * row_h
        width = max((bar.value / top) * plot_w, 1 if bar.value else 0)
        parts.append(
            Markup(
                '<text class="label" x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
                '<rect class="bar" x="{x}" y="{y}" width="{bw:.1f}" height="{bh}"/>'
                '<text class="value" x="{vx:.1f}" y="{ty}">{value}</text>'
            ).format(
                lx=label_w - 6,
                ty=y + 16,
                label=bar.label,
                x=label_w,
                y=y,
                bw=width,
                bh=row_h - 8,
                vx=label_w + width + 6,
                value=_fmt(bar.value),
            )
        )
    desc = "; ".join(f"{b.label}: {_fmt(b.value)}" for b in bars)
    return Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-t {id}-d">'
        '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>{body}</svg>'
    ).format(
        w=WIDTH,
        h=height,
        id=escape(_slug(title)),
        title=title,
        desc=desc,
        body=Markup("").join(parts),
    )


def _slug(text: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in text.lower())
