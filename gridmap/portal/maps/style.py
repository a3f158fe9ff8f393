"""How the hierarchy map looks: line styles per level, the households colour scale, the legend.

The grid fill shows households (户) because the household band (e.g. 300-500户) is the rule grids
are drawn to; grids outside the band get a red dashed outline so a planner sees violations at a
glance, and dedicated grids (专属网格: a school, a hospital...) are purple because the band does
not apply to them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import folium
from jinja2 import Template

from gridmap.config import HouseholdBand
from gridmap.model import AreaLevel
from gridmap.portal.i18n.translator import Translator

#: Boundary line style per administrative level: thick for districts, thin dashes for communities.
LEVEL_STYLES: Mapping[AreaLevel, Mapping[str, Any]] = MappingProxyType(
    {
        AreaLevel.DISTRICT: MappingProxyType({"color": "#1b2631", "weight": 4, "fill": False, "opacity": 0.9}),
        AreaLevel.STREET: MappingProxyType(
            {"color": "#2e4053", "weight": 2.5, "fill": False, "opacity": 0.9, "dashArray": "10 5"}
        ),
        AreaLevel.COMMUNITY: MappingProxyType(
            {"color": "#566573", "weight": 1.5, "fill": False, "opacity": 0.9, "dashArray": "4 4"}
        ),
    }
)
#: In-band households, few to many (colour-blind safe sequential blues/greens).
IN_BAND_COLOURS: tuple[str, ...] = ("#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0")
BELOW_BAND_COLOUR = "#fee391"
ABOVE_BAND_COLOUR = "#fb6a4a"
NO_DATA_COLOUR = "#d5d8dc"
DEDICATED_COLOUR = "#8e6bbf"
DEDICATED_OUTLINE = "#5b2c83"
GRID_OUTLINE = "#34495e"
VIOLATION_OUTLINE = "#c0392b"
PROFESSIONAL_OUTLINE = "#af601a"


@dataclass(frozen=True)
class HouseholdScale:
    """Bins of households per grid. With a band: 4 bins inside [min, max] plus below/above."""

    edges: tuple[float, ...]  # len(IN_BAND_COLOURS) + 1 increasing values
    band: HouseholdBand | None

    def colour(self, households: float | None) -> str:
        if households is None or (isinstance(households, float) and math.isnan(households)):
            return NO_DATA_COLOUR
        if self.band is not None:
            if households < self.band.min_households:
                return BELOW_BAND_COLOUR
            if households > self.band.max_households:
                return ABOVE_BAND_COLOUR
        for i, upper in enumerate(self.edges[1:]):
            if households <= upper:
                return IN_BAND_COLOURS[i]
        return IN_BAND_COLOURS[-1]

    def violation(self, households: float | None) -> str | None:
        """``"below"`` / ``"above"`` when outside the band, else None (also without a band)."""
        if self.band is None or households is None or (isinstance(households, float) and math.isnan(households)):
            return None
        if households < self.band.min_households:
            return "below"
        if households > self.band.max_households:
            return "above"
        return None


def scale_from_households(values: Sequence[float | None], *, band: HouseholdBand | None) -> HouseholdScale:
    """Equal-width bins over the band (when given) or else over the data's range, in households."""
    bins = len(IN_BAND_COLOURS)
    if band is not None:
        low, high = float(band.min_households), float(band.max_households)
    else:
        known = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
        low, high = (min(known), max(known)) if known else (0.0, 1.0)
        if high <= low:
            high = low + 1.0
    step = (high - low) / bins
    return HouseholdScale(tuple(low + i * step for i in range(bins + 1)), band)


def grid_style(colour: str, *, dedicated: bool, violation: bool, professional: bool = False) -> dict[str, Any]:
    """Leaflet path options of one grid polygon."""
    if professional:
        return {"color": PROFESSIONAL_OUTLINE, "weight": 2, "fillOpacity": 0.08, "fillColor": PROFESSIONAL_OUTLINE,
                "dashArray": "2 6"}
    if dedicated:
        return {"color": DEDICATED_OUTLINE, "weight": 2, "fillColor": DEDICATED_COLOUR, "fillOpacity": 0.6}
    style: dict[str, Any] = {"color": GRID_OUTLINE, "weight": 1, "fillColor": colour, "fillOpacity": 0.6}
    if violation:
        style.update({"color": VIOLATION_OUTLINE, "weight": 2.5, "dashArray": "6 4"})
    return style


def _swatch(fill: str, label: str, *, outline: str = GRID_OUTLINE, dashed: bool = False) -> str:
    border = f"2px {'dashed' if dashed else 'solid'} {outline}"
    return (
        f'<div class="gm-legend-row"><span class="gm-swatch" style="background:{fill};border:{border}"></span>'
        f"<span>{html.escape(label)}</span></div>"
    )


def legend_html(
    scale: HouseholdScale, tr: Translator, *, has_dedicated: bool, other_bands: Sequence[HouseholdBand] = ()
) -> str:
    """The legend's inner HTML; every label is escaped (labels may carry formatted numbers).

    A ``<details>`` element, so a phone user can fold it away without any script of ours.
    """
    rows = []
    if scale.band is not None:
        rows.append(_swatch(BELOW_BAND_COLOUR, f'{tr("legend.below")} (<{tr.number(scale.band.min_households)})'))
    for i, colour in enumerate(IN_BAND_COLOURS):
        low, high = tr.number(round(scale.edges[i])), tr.number(round(scale.edges[i + 1]))
        rows.append(_swatch(colour, tr("legend.range", low=low, high=high)))
    if scale.band is not None:
        rows.append(_swatch(ABOVE_BAND_COLOUR, f'{tr("legend.above")} (>{tr.number(scale.band.max_households)})'))
        rows.append(_swatch("transparent", tr("legend.violation"), outline=VIOLATION_OUTLINE, dashed=True))
    for other in other_bands:  # e.g. villages (村) with their own band: same colours by quarter of that band
        label = tr("legend.other_band", min=tr.number(other.min_households), max=tr.number(other.max_households))
        rows.append(f'<div class="gm-legend-row gm-legend-note"><span>{html.escape(label)}</span></div>')
    if has_dedicated:
        rows.append(_swatch(DEDICATED_COLOUR, tr("legend.dedicated"), outline=DEDICATED_OUTLINE))
    rows.append(_swatch(NO_DATA_COLOUR, tr("legend.no_data")))
    title = f'<summary class="gm-legend-title">{html.escape(tr("legend.title"))}</summary>'
    return f'<details class="gm-legend-details" open>{title}{"".join(rows)}</details>'


class Legend(folium.MacroElement):
    """A Leaflet control (bottom right) holding pre-escaped legend HTML."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
          .gm-legend { background: rgba(255,255,255,0.92); padding: 6px 10px; border-radius: 4px;
                       box-shadow: 0 1px 4px rgba(0,0,0,0.3); font-size: 12px; line-height: 1.5; }
          .gm-legend-title { font-weight: 600; margin-bottom: 2px; cursor: pointer; }
          .gm-legend-row { display: flex; align-items: center; gap: 6px; }
          .gm-swatch { display: inline-block; width: 16px; height: 12px; box-sizing: border-box; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "gm-legend");
                div.innerHTML = {{ this.content|tojson }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "GridmapLegend"
        self.content = content


class SyntheticNotice(folium.MacroElement):
    """A notice on the map (bottom left, above the scale) that the data shown is synthetic demo data.

    Why on the map and not only in the data: a screenshot of the demo must never pass for real
    boundaries or real people (issue 2, item 8).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var notice = L.control({position: "bottomleft"});
            notice.onAdd = function () {
                var div = L.DomUtil.create("div", "gm-synthetic");
                div.setAttribute("role", "note");
                div.textContent = {{ this.text|tojson }};
                div.style.cssText = "background:#fff8e1;border:1px solid #f9a825;border-radius:4px;"
                    + "padding:2px 8px;font-size:12px;color:#5d4037";
                return div;
            };
            notice.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "GridmapSyntheticNotice"
        self.text = text


#: Below this viewport width (CSS px) the layer control and the legend start folded.
SMALL_SCREEN_PX = 720


class CompactOnSmallScreens(folium.MacroElement):
    """Fold the layer control and the legend on phones so the map itself stays visible.

    Screen width is only known in the browser, hence a few lines of script; add this after the
    LayerControl it folds.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if (window.matchMedia("(max-width: {{ this.max_width_px }}px)").matches) {
            {{ this.control_name }}.collapse();
            document.querySelectorAll("#{{ this._parent.get_name() }} details.gm-legend-details")
                .forEach(function (d) { d.open = false; });
        }
        {% endmacro %}
        """
    )

    def __init__(self, layer_control: folium.LayerControl, *, max_width_px: int = SMALL_SCREEN_PX) -> None:
        super().__init__()
        self._name = "GridmapCompact"
        self.control_name = layer_control.get_name()
        self.max_width_px = int(max_width_px)
