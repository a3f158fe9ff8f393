"""Many point markers on a Folium map as one element: the points are data, one loop draws them.

Why not one ``folium.CircleMarker`` (and ``folium.Popup``) per point: each of them compiles and
renders its own Jinja templates on the server and writes its own few lines of script, so a
dashboard with its 1,000 newest open incidents spent about 1.3 s rendering markers (two templates
compiled per marker) and sent about 0.5 MB of script. Here the points travel as one compact JSON
array (``script_json``: safe inside ``<script>``) and the browser builds each popup only when it is
opened, from text nodes (``textContent``), so a value is never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
from jinja2 import Template

from gridmap.portal.maps.tiled import script_json


@dataclass(frozen=True)
class PointMarker:
    """One point: WGS 84 degrees, a bold title, text lines under it and an id (shown as code)."""

    lat: float
    lon: float
    title: str
    lines: Sequence[str]
    marker_id: str


@dataclass(frozen=True)
class CircleStyle:
    """Leaflet circleMarker options: radius in CSS pixels, colours as CSS colours, opacity 0..1."""

    radius: float = 6.0
    color: str = "#922b21"
    weight: float = 2.0
    fill_color: str = "#e74c3c"
    fill_opacity: float = 0.85
    class_name: str = ""
    pane: str = "markerPane"

    def options(self) -> dict[str, Any]:
        return {"radius": self.radius, "color": self.color, "weight": self.weight, "fill": True,
                "fillColor": self.fill_color, "fillOpacity": self.fill_opacity, "className": self.class_name,
                "pane": self.pane}


class CircleMarkers(folium.MacroElement):
    """``points`` as Leaflet circle markers added to the parent (a ``folium.FeatureGroup`` or the map).

    Each marker carries its id as ``options.markerId`` (scripts and tests find a marker by it); a
    click opens a popup (``max_width`` CSS pixels) with the title in bold, the lines and the id.
    Coordinates are rounded to 1e-6 degrees (about 0.1 m), finer than a phone's or a click's position.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (group, style, rows) {
            function popupOf(r) {
                var box = document.createElement('div'), b = document.createElement('b');
                b.textContent = r[2]; box.appendChild(b);
                r[3].forEach(function (line) {
                    box.appendChild(document.createElement('br'));
                    box.appendChild(document.createTextNode(line));
                });
                var code = document.createElement('code');
                code.textContent = r[4];
                box.appendChild(document.createElement('br')); box.appendChild(code);
                return box;
            }
            rows.forEach(function (r) {
                var options = Object.assign({markerId: r[4]}, style);
                L.circleMarker([r[0], r[1]], options)
                    .bindPopup(function () { return popupOf(r); }, {maxWidth: {{ this.max_width }}})
                    .addTo(group);
            });
        })({{ this._parent.get_name() }}, {{ this.style }}, {{ this.rows }});
        {% endmacro %}
        """
    )

    def __init__(self, points: Sequence[PointMarker], *, style: CircleStyle | None = None,
                 max_width: int = 260) -> None:  # fmt: skip
        super().__init__()
        self._name = "CircleMarkers"
        self.style = script_json((style or CircleStyle()).options())
        self.max_width = int(max_width)
        self.rows = script_json([[round(p.lat, 6), round(p.lon, 6), p.title, list(p.lines), p.marker_id]
                                 for p in points])
