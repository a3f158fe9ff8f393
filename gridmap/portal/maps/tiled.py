"""Map layers drawn from ``/tiles`` instead of embedded GeoJSON, for city-size data (issue 14).

Why: a Folium map embeds every feature in the page; 10,000 grids are megabytes of HTML before the
first paint. A tiled layer is a few hundred bytes of script: Leaflet.VectorGrid (vendored, no
CDN) fetches only the tiles in view, styled in the browser with the same colours as the embedded
layers (the households scale of mapstyle, its bins written into the style function).

The popup shows a feature's name, code and households, built with ``textContent`` (never
``innerHTML``), so a name from the data cannot inject markup. Tiles are in WGS84/Web Mercator:
on a basemap that needs the GCJ-02 shift (AMap) the pages keep embedding instead.

One switch for every page (:func:`city_tiles_root`): the home map, the dashboard, the command
centre, the incident pages and the analysis pages all go to tiles above the same
``Settings.tiled_map_min_grids``. A result map (hotspot bins, coverage, statistics classes) is a
:class:`TiledClassLayer`: the page embeds the legend once and each feature's code grouped by class
(about 18 bytes a grid, where a grid's GeoJSON is 300 bytes or more), and the tiles' ``code``
property picks the fill in the browser. Features whose code is not in the result (the rest of the
caller's area, when ``?area=`` narrows it) are not drawn at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
from folium.plugins import VectorGridProtobuf
from jinja2 import Template

from gridmap.config import Settings
from gridmap.model import AreaLevel
from gridmap.portal.i18n.translator import Translator
from gridmap.portal.maps.basemaps import Basemap
from gridmap.portal.maps.style import (
    ABOVE_BAND_COLOUR,
    BELOW_BAND_COLOUR,
    GRID_OUTLINE,
    IN_BAND_COLOURS,
    LEVEL_STYLES,
    NO_DATA_COLOUR,
    HouseholdScale,
)
from gridmap.services.tiles import tile_min_zoom

#: Class on every tiled layer's pane elements (tests and CSS find them by it).
TILED_CLASS = "gm-tiled"
#: Tiles are made up to this zoom; Leaflet scales them beyond.
MAX_NATIVE_ZOOM = 18
#: The tile layers whose features carry an area or grid ``code`` (what a result map can be styled by).
CODED_TILE_LAYERS = ("streets", "communities", "grids")


def tiles_wanted(grids: int, settings: Settings, basemap: Basemap) -> bool:
    """True when a map of the ``grids`` (base) grids visible to its caller should draw them from /tiles.

    Above ``settings.tiled_map_min_grids`` embedded GeoJSON would be megabytes; never on a basemap
    whose overlays need the GCJ-02 shift (AMap), which WGS84 tiles cannot give.
    """
    return grids > settings.tiled_map_min_grids and basemap.overlay_crs == "EPSG:4326"


def city_tiles_root(grids: int, settings: Settings, basemap: Basemap, *, script_root: str = "") -> str | None:
    """``{script_root}/tiles`` when :func:`tiles_wanted`, else None (embed). ``script_root``: the mount point."""
    return script_root.rstrip("/") + "/tiles" if tiles_wanted(grids, settings, basemap) else None


def tile_source(layer: str, root: str) -> dict[str, Any]:
    """What a hand-written Leaflet page (not Folium) needs to draw ``{root}/{layer}`` with ``js/tiled.js``.

    The URL template, Leaflet's ``maxNativeZoom`` and the layer's class, as JSON for the page's
    config; the script ``gridmapTiled.outlines(source, layer, style)`` makes the VectorGrid layer.
    No ``minZoom``: Leaflet would make it the whole map's minimum, and these pages fit the caller's
    whole area (below a layer's first zoom its tiles are empty, so nothing is drawn there).
    """
    return {"url": f"{root}/{layer}/{{z}}/{{x}}/{{y}}.mvt", "maxNativeZoom": MAX_NATIVE_ZOOM, "className": TILED_CLASS}


def script_json(value: Any) -> str:
    """JSON safe inside an inline ``<script>`` (no ``<``, ``>`` or ``&`` that could close or confuse it)."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _options(layer: str, draw: str, *, interactive: bool) -> str:
    """VectorGrid.protobuf options (a JS object literal): ``draw`` styles ``layer``'s features (object or function).

    Interactive layers identify features by their ``code`` (VectorGrid's ``getFeatureId``). Only the
    grids layer gets a ``minZoom`` (its tiles' first zoom, 10): Leaflet makes a layer's ``minZoom``
    the whole map's minimum, which keeps a city's grids always drawn, as the home map wants. The
    area layers get none: their first zooms (6, 8) are within Leaflet's animation threshold (4
    levels) of the maps' start zoom (4), and the animated zoom-in to them overrode the
    ``fitBounds`` that follows (seen in Chromium: the home map ended at zoom 6 over western China).
    """
    feature_id = ', "getFeatureId": function (f) { return f.properties.code; }' if interactive else ""
    min_zoom = f'"minZoom": {tile_min_zoom(layer)}, ' if layer == "grids" else ""
    return (f'{{"vectorTileLayerStyles": {{"{layer}": {draw}}}, "interactive": {json.dumps(interactive)}, '
            f'"maxNativeZoom": {MAX_NATIVE_ZOOM}, {min_zoom}"className": "{TILED_CLASS}"{feature_id}}}')  # fmt: skip


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
    options = _options("grids", _grid_style_js(scale), interactive=True)
    return VectorGridProtobuf(root + "/grids/{z}/{x}/{y}.mvt", name=tr("layer.grid"), options=options)


def tiled_area_layer(level: AreaLevel, tr: Translator, *, root: str = "/tiles", style: Mapping[str, Any] | None = None,
                     code_prefix: str = "", control: bool = True) -> VectorGridProtobuf:  # fmt: skip
    """Street or community outlines from ``{root}/streets`` or ``{root}/communities``.

    ``style`` replaces the level's line style; with ``code_prefix`` only the areas whose code starts
    with it are drawn (the tiles hold the caller's whole area; a page narrowed by ``?area=`` shows
    its part only).
    """
    name = "streets" if level is AreaLevel.STREET else "communities"
    look = dict(style if style is not None else LEVEL_STYLES[level])
    draw = (f"function (p) {{ return String(p.code || '').indexOf({script_json(code_prefix)}) === 0"
            f" ? {script_json(look)} : []; }}") if code_prefix else script_json(look)  # fmt: skip
    return VectorGridProtobuf(f"{root}/{name}/{{z}}/{{x}}/{{y}}.mvt", name=tr(f"layer.{level.value}"),
                              options=_options(name, draw, interactive=False), control=control)  # fmt: skip


@dataclass(frozen=True)
class TileClasses:
    """A result per feature as classes: class ``i`` has ``fills[i]``, ``labels[i]`` and the features ``codes[i]``."""

    fills: tuple[str, ...]
    labels: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]

    @classmethod
    def from_rows(cls, codes: Sequence[Any], fills: Sequence[str], labels: Sequence[str]) -> TileClasses:
        """One class per distinct (fill, label) of the rows, in order of first appearance."""
        order: dict[tuple[str, str], list[str]] = {}
        for code, fill, label in zip(codes, fills, labels, strict=True):
            order.setdefault((str(fill), str(label)), []).append(str(code))
        return cls(tuple(f for f, _ in order), tuple(label for _, label in order),
                   tuple(tuple(c) for c in order.values()))  # fmt: skip

    def __len__(self) -> int:
        return sum(len(c) for c in self.codes)


class TiledClassLayer(VectorGridProtobuf):
    """Features of ``{root}/{layer}`` filled by their class in ``classes``, matched by the ``code`` property.

    The page embeds ``classes`` once (``<name>_classes`` in the script, also read by TiledPopup);
    ``style`` is the Leaflet path style of every drawn feature (its ``fillColor`` comes from the class).
    Features whose code is in no class are skipped (VectorGrid draws nothing for an empty style list).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }}_classes = (function (d) {
            var index = Object.create(null);
            d.codes.forEach(function (group, i) { group.forEach(function (code) { index[code] = i; }); });
            d.of = function (code) { var i = index[String(code)]; return i === undefined ? -1 : i; };
            return d;
        })({{ this.data }});
        var {{ this.get_name() }} = L.vectorGrid.protobuf('{{ this.url }}', {{ this.options }});
        {%- endmacro %}
        """
    )

    def __init__(self, layer: str, classes: TileClasses, *, style: Mapping[str, Any], name: str,
                 root: str = "/tiles") -> None:  # fmt: skip
        if layer not in CODED_TILE_LAYERS:
            raise ValueError(f"tile layer {layer!r} has no code property; use one of {', '.join(CODED_TILE_LAYERS)}")
        super().__init__(f"{root}/{layer}/{{z}}/{{x}}/{{y}}.mvt", name=name)
        classes_var = self.classes_var
        self.data = script_json({"fills": list(classes.fills), "labels": list(classes.labels),
                                 "codes": [list(c) for c in classes.codes]})  # fmt: skip
        draw = (f"function (p) {{ var i = {classes_var}.of(p.code); if (i < 0) {{ return []; }}"
                f" return Object.assign({script_json(dict(style))}, {{fillColor: {classes_var}.fills[i]}}); }}")
        self.options = _options(layer, draw, interactive=True)

    @property
    def classes_var(self) -> str:
        """The script variable holding the classes (``of(code)`` -> index or -1, ``fills``, ``labels``)."""
        return self.get_name() + "_classes"


class TiledPopup(folium.MacroElement):
    """Click on a tiled feature: a popup with its ``fields`` (name, code, households) as text nodes only.

    On a :class:`TiledClassLayer` give ``class_title``: the popup adds a row with the feature's class label.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer }}.on('click', function (e) {
            var p = e.layer.properties || {}, box = document.createElement('div');
            var rows = {{ this.fields }}.map(function (f) { return [f[0], p[f[1]]]; });
            {%- if this.class_title %}
            var i = {{ this.layer }}_classes.of(p.code);
            rows.push([{{ this.class_title }}, i < 0 ? undefined : {{ this.layer }}_classes.labels[i]]);
            {%- endif %}
            rows.forEach(function (row) {
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

    def __init__(self, layer: VectorGridProtobuf, map_name: str, tr: Translator, *,
                 fields: Sequence[str] = ("name", "code", "households"),
                 class_title: str | None = None) -> None:  # fmt: skip
        super().__init__()
        self._name = "TiledPopup"
        if class_title is not None and not isinstance(layer, TiledClassLayer):
            raise TypeError("class_title needs a TiledClassLayer (the classes the popup names)")
        self.layer = layer.get_name()
        self.map = map_name
        self.fields = script_json([[tr(f"field.{k}"), k] for k in fields])
        self.class_title = None if class_title is None else script_json(class_title)


__all__ = [
    "CODED_TILE_LAYERS", "MAX_NATIVE_ZOOM", "TILED_CLASS", "TileClasses", "TiledClassLayer", "TiledPopup",
    "city_tiles_root", "script_json", "tile_source", "tiled_area_layer", "tiled_grid_layer", "tiles_wanted",
]  # fmt: skip
