"""Inline SVG charts for the assessment page: bar, pie and trend (A-31: 列表、柱状图、饼状图和走势图).

Why hand-written SVG: no chart library on a CDN (the portal works offline and its CSP allows only
'self'), no script needed to draw, and the charts print. Every element is built with
``Markup(<literal template>).format(...)``, which escapes each argument: labels (names of grids and
departments are user data) can never become markup, and templates insert the result as it is,
without ``|safe``. Numbers are formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup

PALETTE = ("#1d6fa5", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50",
           "#f1c40f", "#7f8c8d", "#2980b9", "#e84393", "#6c5ce7")


def _svg(width: int, height: int, title: str, body: list[Markup], testid: str) -> Markup:
    return Markup('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
                  'role="img" aria-label="{t}" data-testid="{i}" class="gm-chart"><title>{t}</title>{b}</svg>'
                  ).format(w=width, h=height, t=title, i=testid, b=Markup("").join(body))


def _num(value: float) -> str:
    return f"{value:.1f}"


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, max_value: float = 100.0,
              marker: float | None = None, marker_label: str = "", width: int = 640) -> Markup:
    """Horizontal bars (one per label) scaled to ``max_value``; an optional vertical marker (pass line)."""
    row_h, label_w, pad = 22, 180, 8
    height = pad * 2 + row_h * max(len(labels), 1) + (16 if marker is not None else 0)
    plot_w = width - label_w - 60
    body: list[Markup] = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = pad + i * row_h
        w = 0.0 if max_value <= 0 or math.isnan(value) else max(0.0, min(1.0, value / max_value)) * plot_w
        body.append(Markup(
            '<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text>'
            '<rect class="gm-bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
            '<text x="{}" y="{}" font-size="11">{}</text>').format(
            label_w - 6, y + 15, label, label_w, y + 3, _num(w), row_h - 6, PALETTE[0], label, _num(value),
            _num(label_w + w + 4), y + 15, _num(value)))
    if marker is not None and max_value > 0:
        x = _num(label_w + max(0.0, min(1.0, marker / max_value)) * plot_w)
        bottom = pad + row_h * max(len(labels), 1)
        body.append(Markup(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#c0392b" stroke-dasharray="4 3"/>'
            '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#c0392b">{}</text>').format(
            x, pad, x, bottom, x, bottom + 13, marker_label))
    return _svg(width, height, title, body, "chart-bar")


def _slice(cx: float, cy: float, r: float, start: float, share: float, colour: str, tip: str) -> Markup:
    if share >= 0.9999:
        return Markup('<circle class="gm-slice" cx="{}" cy="{}" r="{}" fill="{}"><title>{}</title></circle>').format(
            cx, cy, r, colour, tip)
    end = start + share * 2 * math.pi
    path = (f"M{cx},{cy} L{cx + r * math.cos(start):.2f},{cy + r * math.sin(start):.2f} "
            f"A{r},{r} 0 {1 if share > 0.5 else 0} 1 {cx + r * math.cos(end):.2f},{cy + r * math.sin(end):.2f} Z")
    return Markup('<path class="gm-slice" d="{}" fill="{}"><title>{}</title></path>').format(path, colour, tip)


def pie_chart(labels: Sequence[str], values: Sequence[float], *, title: str, size: int = 220,
              width: int = 520) -> Markup:
    """A pie with a legend (label, count, share); slices in PALETTE order, as given (largest first)."""
    total = float(sum(values))
    r, cx, cy = size / 2 - 6, size / 2, size / 2
    body: list[Markup] = []
    angle = -math.pi / 2
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        share = value / total if total > 0 else 0.0
        colour = PALETTE[i % len(PALETTE)]
        text = f"{label} {value:g} ({share:.0%})"
        if share > 0:
            body.append(_slice(cx, cy, r, angle, share, colour, text))
            angle += share * 2 * math.pi
        ly = 14 + i * 18
        body.append(Markup('<rect x="{}" y="{}" width="12" height="12" fill="{}"/>'
                           '<text x="{}" y="{}" font-size="12">{}</text>').format(
            size + 14, ly - 10, colour, size + 32, ly, text))
    height = max(size, 14 + 18 * len(labels))
    return _svg(width, height, title, body, "chart-pie")


def line_chart(periods: Sequence[str], series: dict[str, Sequence[float]], *, title: str, width: int = 640,
               height: int = 240) -> Markup:
    """One polyline per series over the periods, with a y axis from 0 to the largest value."""
    left, right, top, bottom = 44, 16, 12, 40
    top_value = max([max(v) for v in series.values() if len(v)] + [1.0])
    n = max(len(periods), 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2)
        return x, top + plot_h * (1 - v / top_value)

    body = [Markup('<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><line x1="{l}" y1="{t}" x2="{l}" '
                   'y2="{b}" stroke="#999"/><text x="{lx}" y="{ty}" text-anchor="end" font-size="11">{top}</text>'
                   '<text x="{lx}" y="{b}" text-anchor="end" font-size="11">0</text>').format(
        l=left, r=width - right, t=top, b=top + plot_h, lx=left - 6, ty=top + 10, top=f"{top_value:g}")]
    step = max(1, math.ceil(len(periods) / 12))
    for i, label in enumerate(periods):
        if i % step == 0:
            body.append(Markup('<text x="{}" y="{}" text-anchor="middle" font-size="10">{}</text>').format(
                _num(xy(i, 0)[0]), height - 22, label))
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        vertices = [xy(i, float(v)) for i, v in enumerate(values)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in vertices)
        body += [Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{}: {}</title></circle>').format(
            x, y, colour, periods[i] if i < len(periods) else "", values[i]) for i, (x, y) in enumerate(vertices)]
        body.append(Markup(
            '<polyline class="gm-line" fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title>'
            '</polyline><rect x="{}" y="{}" width="12" height="4" fill="{}"/><text x="{}" y="{}" font-size="11">{}'
            "</text>").format(colour, points, name, left + k * 110, height - 12, colour, left + 16 + k * 110,
                              height - 7, name))
    return _svg(width, height, title, body, "chart-trend")
