"""Inline SVG charts for the assessment page: bar, pie and trend (A-31: 列表、柱状图、饼状图和走势图).

Why hand-written SVG: no chart library on a CDN (the portal works offline and its CSP allows only
'self'), no script needed to draw, and the charts print. Every label passes through
``html.escape`` (names of grids and departments are user data); numbers are formatted here.
The functions return SVG markup as ``str``; templates insert it unescaped, which is safe only
because of that escaping (see tests/incidents/test_pages.py with a hostile name).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#1d6fa5", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50",
           "#f1c40f", "#7f8c8d", "#2980b9", "#e84393", "#6c5ce7")


def _svg(width: int, height: int, title: str, body: list[str], testid: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-label="{escape(title)}" data-testid="{escape(testid)}" class="gm-chart">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, max_value: float = 100.0,
              marker: float | None = None, marker_label: str = "", width: int = 640) -> str:
    """Horizontal bars (one per label) scaled to ``max_value``; an optional vertical marker (pass line)."""
    row_h, label_w, pad = 22, 180, 8
    height = pad * 2 + row_h * max(len(labels), 1) + (16 if marker is not None else 0)
    plot_w = width - label_w - 60
    body: list[str] = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = pad + i * row_h
        w = 0.0 if max_value <= 0 or math.isnan(value) else max(0.0, min(1.0, value / max_value)) * plot_w
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
                    f'<rect class="gm-bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                    f'fill="{PALETTE[0]}"><title>{escape(label)}: {value:.1f}</title></rect>'
                    f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="11">{value:.1f}</text>')
    if marker is not None and max_value > 0:
        x = label_w + max(0.0, min(1.0, marker / max_value)) * plot_w
        bottom = pad + row_h * max(len(labels), 1)
        body.append(f'<line x1="{x:.1f}" y1="{pad}" x2="{x:.1f}" y2="{bottom}" stroke="#c0392b" '
                    f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{bottom + 13}" font-size="11" '
                    f'text-anchor="middle" fill="#c0392b">{escape(marker_label)}</text>')
    return _svg(width, height, title, body, "chart-bar")


def pie_chart(labels: Sequence[str], values: Sequence[float], *, title: str, size: int = 220,
              width: int = 520) -> str:
    """A pie with a legend (label, count, share); slices in PALETTE order, largest first as given."""
    total = float(sum(values))
    r, cx, cy = size / 2 - 6, size / 2, size / 2
    body: list[str] = []
    angle = -math.pi / 2
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        share = value / total if total > 0 else 0.0
        colour = PALETTE[i % len(PALETTE)]
        tip = f"<title>{escape(label)}: {value:g} ({share:.0%})</title>"
        if share >= 0.9999:
            body.append(f'<circle class="gm-slice" cx="{cx}" cy="{cy}" r="{r}" fill="{colour}">{tip}</circle>')
        elif share > 0:
            end = angle + share * 2 * math.pi
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(end), cy + r * math.sin(end)
            large = 1 if share > 0.5 else 0
            body.append(f'<path class="gm-slice" d="M{cx},{cy} L{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 '
                        f'{x2:.2f},{y2:.2f} Z" fill="{colour}">{tip}</path>')
            angle = end
        ly = 14 + i * 18
        body.append(f'<rect x="{size + 14}" y="{ly - 10}" width="12" height="12" fill="{colour}"/>'
                    f'<text x="{size + 32}" y="{ly}" font-size="12">{escape(label)} {value:g} ({share:.0%})</text>')
    height = max(size, 14 + 18 * len(labels))
    return _svg(width, height, title, body, "chart-pie")


def line_chart(periods: Sequence[str], series: dict[str, Sequence[float]], *, title: str, width: int = 640,
               height: int = 240) -> str:
    """One polyline per series over the periods, with a y axis from 0 to the largest value."""
    left, right, top, bottom = 44, 16, 12, 40
    top_value = max([max(v) for v in series.values() if len(v)] + [1.0])
    n = max(len(periods), 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2)
        return x, top + plot_h * (1 - v / top_value)

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
            f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{top_value:g}</text>',
            f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>']
    step = max(1, math.ceil(len(periods) / 12))
    for i, label in enumerate(periods):
        if i % step == 0:
            x, _ = xy(i, 0)
            body.append(f'<text x="{x:.1f}" y="{height - 22}" text-anchor="middle" font-size="10">'
                        f"{escape(label)}</text>")
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, float(v)) for i, v in enumerate(values)))
        body.append(f'<polyline class="gm-line" fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
                    f"<title>{escape(name)}</title></polyline>")
        body.append(f'<rect x="{left + k * 110}" y="{height - 12}" width="12" height="4" fill="{colour}"/>'
                    f'<text x="{left + 16 + k * 110}" y="{height - 7}" font-size="11">{escape(name)}</text>')
    return _svg(width, height, title, body, "chart-trend")
