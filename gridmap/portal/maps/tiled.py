"""Map layers drawn from ``/tiles`` instead of embedded GeoJSON, for city-size data (issue 14).

Why: a Folium map embeds every feature in the page; 10,000 grids are megabytes of HTML before the
first paint. A tiled layer is a few hundred bytes of script: Leaflet.VectorGrid (vendored, no
CDN) fetches only the tiles in view, styled in the browser with the same colours as the embedded
layers (the households scale of mapstyle, its bins written into the style function).

The popup shows a feature's name, code and households, built with ``textContent`` (never
``innerHTML``), so a name from the data cannot inject markup. Tiles are in WGS84/Web Mercator:
on a basemap that needs the GCJ-02 shift (AMap) the pages keep embedding instead.
"""

from __future__ import annotations

import json

import folium
from folium.plugins import VectorGridProtobuf
from jinja2 import Template

from gridmap.model import AreaLevel
from gridmap.portal.i18n.translator import Translator
from gridmap.portal.maps.style import (
    ABOVE_BAND_COLOUR,
    BELOW_BAND_COLOUR,
    GRID_OUTLINE,
    IN_BAND_COLOURS,
    LEVEL_STYLES,
    NO_DATA_COLOUR,
    HouseholdScale,
)

#: Class on every tiled layer's pane elements (tests and CSS find them by it).
TILED_CLASS = "gm-tiled"


def _grid_style_js(scale: HouseholdScale) -> str:
    """A JS function(properties) -> Leaflet path style with HouseholdScale.colour's bins."""
    band = scale.band
    config = {"edges": list(scale.edges), "colours": list(IN_BAND_COLOURS), "none": NO_DATA_COLOUR,
              "below": BELOW_BAND_COLOUR, "above": ABOVE_BAND_COLOUR, "outline": GRID_OUTLINE,
              "min": band.min_households if band else None, "max": band.max_households if band else None}  # fmt: skip
    return (
        "function (p) { var s = " + json.dumps(config) + "; var h = p.households, c = s.none;"
        # professional grids (sector overlays) overlap the base grids by design: not drawn here
        " if (p.kind === 'professional') { return {fill: false, stroke: false}; }"
        " if (typeof h === 'number') { if (s.min !== null && h < s.min) { c = s.below; }"
        " else if (s.max !== null && h > s.max) { c = s.above; }"
        " else { c = s.colours[s.colours.length - 1];"
        " for (var i = 1; i < s.edges.length; i++) { if (h <= s.edges[i]) { c = s.colours[i - 1]; break; } } } }"
        " return {fill: true, fillColor: c, fillOpacity: 0.55, color: s.outline, weight: 1, opacity: 0.9}; }"
    )


def tiled_grid_layer(scale: HouseholdScale, tr: Translator, *, root: str = "/tiles") -> VectorGridProtobuf:
    """The active grids from ``{root}/grids``, coloured by households."""
    options = ('{"vectorTileLayerStyles": {"grids": ' + _grid_style_js(scale) + '}, "interactive": true, '
               '"maxNativeZoom": 18, "minZoom": 10, "className": "' + TILED_CLASS + '", '
               '"getFeatureId": function (f) { return f.properties.code; }}')  # fmt: skip
    return VectorGridProtobuf(root + "/grids/{z}/{x}/{y}.mvt", name=tr("layer.grid"), options=options)


def tiled_area_layer(level: AreaLevel, tr: Translator, *, root: str = "/tiles") -> VectorGridProtobuf:
    """Street or community outlines from ``{root}/streets`` or ``{root}/communities``."""
    name = "streets" if level is AreaLevel.STREET else "communities"
    style = {k: v for k, v in LEVEL_STYLES[level].items()}
    options = json.dumps({"vectorTileLayerStyles": {name: style}, "interactive": False, "maxNativeZoom": 18,
                          "className": TILED_CLASS})  # fmt: skip
    return VectorGridProtobuf(f"{root}/{name}/{{z}}/{{x}}/{{y}}.mvt", name=tr(f"layer.{level.value}"), options=options)


class TiledPopup(folium.MacroElement):
    """Click on a tiled grid: a popup with its name, code and households (text nodes only)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer }}.on('click', function (e) {
            var p = e.layer.properties || {}, box = document.createElement('div');
            [[{{ this.labels.name }}, p.name], [{{ this.labels.code }}, p.code],
             [{{ this.labels.households }}, p.households]].forEach(function (row) {
                var line = document.createElement('div'), b = document.createElement('b');
                b.textContent = row[0] + ': '; line.appendChild(b);
                line.appendChild(document.createTextNode(row[1] === undefined ? '—' : String(row[1])));
                box.appendChild(line);
            });
            L.popup().setLatLng(e.latlng).setContent(box).openOn({{ this.map }});
        });
        {% endmacro %}
        """
    )

    def __init__(self, layer: VectorGridProtobuf, map_name: str, tr: Translator) -> None:
        super().__init__()
        self._name = "TiledPopup"
        self.layer = layer.get_name()
        self.map = map_name
        self.labels = {k: json.dumps(tr(f"field.{k}")).replace("<", "\\u003c") for k in ("name", "code", "households")}


__all__ = ["TILED_CLASS", "TiledPopup", "tiled_area_layer", "tiled_grid_layer"]
