"""Inline SVG bar charts for the patrol page: no chart library, no CDN, nothing to vendor.

Why hand-made SVG: the charts are horizontal bars of shares (0..1) with an optional target line (R-15's
50%); a few dozen lines of markup render in every browser, print, and pass the CSP (no script at all).
Every label is escaped (worker names are people's input).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

ROW_PX = 22
LABEL_PX = 120
BAR_PX = 260
PAD_PX = 8


@dataclass(frozen=True)
class Series:
    """One bar per label; ``None`` values draw no bar (nothing to measure)."""

    name: str
    values: Sequence[float | None]
    colour: str


def _bar(x: float, y: float, width: float, height: float, colour: str, title: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(0.0, width):.1f}" height="{height:.1f}" fill="{colour}">'
            f"<title>{title}</title></rect>")


def share_bars_svg(labels: Sequence[str], series: Sequence[Series], *, title: str, target: float | None = None,
                   testid: str = "chart") -> Markup:
    """Horizontal bars of shares (0..1) per label, one bar per series, with a dashed ``target`` line."""
    rows = len(labels)
    band = ROW_PX * max(1, len(series))
    height = PAD_PX * 2 + rows * band + 16
    width = LABEL_PX + BAR_PX + 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" data-testid="{escape(testid)}" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for i, label in enumerate(labels):
        top = PAD_PX + i * band
        parts.append(f'<text x="{LABEL_PX - 6}" y="{top + band / 2 + 4:.1f}" text-anchor="end" font-size="12">'
                     f"{escape(label)}</text>")
        for k, s in enumerate(series):
            value = s.values[i]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            share = min(1.0, max(0.0, float(value)))
            text = f"{escape(label)} · {escape(s.name)}: {share:.0%}"
            parts.append(_bar(LABEL_PX, top + k * ROW_PX + 3, share * BAR_PX, ROW_PX - 6, s.colour, text))
            parts.append(f'<text x="{LABEL_PX + share * BAR_PX + 4:.1f}" y="{top + k * ROW_PX + ROW_PX / 2 + 4:.1f}" '
                         f'font-size="11">{share:.0%}</text>')
    axis_y = PAD_PX + rows * band
    parts.append(f'<line x1="{LABEL_PX}" y1="{axis_y}" x2="{LABEL_PX + BAR_PX}" y2="{axis_y}" stroke="#999"/>')
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{LABEL_PX + tick * BAR_PX:.1f}" y="{axis_y + 13}" text-anchor="middle" '
                     f'font-size="10">{tick:.0%}</text>')
    if target is not None:
        x = LABEL_PX + target * BAR_PX
        parts.append(f'<line x1="{x:.1f}" y1="{PAD_PX}" x2="{x:.1f}" y2="{axis_y}" stroke="#b03a2e" '
                     'stroke-dasharray="4 3" data-role="target"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped or a number
