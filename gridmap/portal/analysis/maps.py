"""Folium maps of the analysis pages: heat layers, a weekly heat animation, choropleths of results.

Pure builders like ``gridmap.portal.maps.hierarchy``: frames and arrays in, ``folium.Map`` out (no Flask, no
store). Every data string that reaches a popup, a tooltip or the layer control (cell names,
category names) is ``html.escape``-d first, because Leaflet inserts those as HTML. Overlays are
drawn in the basemap's datum (shifted to GCJ-02 for AMap) exactly like the hierarchy map.

For a city (see ``portal.maps.tiled.city_tiles_root``) a choropleth is drawn from the vector tiles
instead (``tiled=TiledCells(...)``): the page embeds each cell's class, not its geometry, and the
heat pages draw the community outlines from tiles (``outline_layer``).

Colours: the hotspot bins use the diverging red-blue scheme of ArcGIS's Hot Spot Analysis
(99/95/90 % hot in reds, cold in blues, not significant pale); emerging categories use reds for
hot, blues for cold; statistics use five quantile classes of a sequential yellow-red scheme.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from folium import plugins
from folium.map import Layer

from gridmap.portal.i18n.translator import Translator
from gridmap.portal.maps.basemaps import Basemap, add_basemap
from gridmap.portal.maps.hierarchy import EMPTY_CENTRE_LATLON, EMPTY_ZOOM, display_geometries, escape_text
from gridmap.portal.maps.style import CompactOnSmallScreens, Legend
from gridmap.portal.maps.tiled import TileClasses, TiledClassLayer, TiledPopup
from gridmap.services.analysis import HeatFrames, HeatLayers, HeatPoints

Text = Callable[..., str]
BIN_COLOURS: Mapping[int, str] = MappingProxyType({
    3: "#d62f27", 2: "#ed7551", 1: "#fab984", 0: "#eeeeee", -1: "#c0ccbe", -2: "#849eba", -3: "#4575b5",
})
EMERGING_COLOURS: Mapping[str, str] = MappingProxyType({
    "new": "#fdd0a2", "consecutive": "#fdae6b", "intensifying": "#d94801", "persistent": "#a63603",
    "diminishing": "#fd8d3c", "sporadic": "#fee6ce", "oscillating": "#bcbddc", "historical": "#8c6d31",
})
COLD_COLOURS: Mapping[str, str] = MappingProxyType({
    "new": "#c6dbef", "consecutive": "#9ecae1", "intensifying": "#08519c", "persistent": "#08306b",
    "diminishing": "#6baed6", "sporadic": "#deebf7", "oscillating": "#dadaeb", "historical": "#4a6a8a",
})
QUANTILE_COLOURS: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
NO_PATTERN_COLOUR = "#f4f4f4"
#: CSS class of the analysis choropleth paths (pages and browser tests find them by it).
RESULT_CLASS = "gm-analysis-cell"
#: Look of a result cell (embedded or tiled; the fill comes from its class).
CELL_STYLE: Mapping[str, Any] = MappingProxyType({"color": "#566573", "weight": 0.8, "fillOpacity": 0.75,
                                                  "opacity": 1.0, "fill": True})  # fmt: skip
#: Community outlines under the heat: thin grey dashes, not filled.
OUTLINE_STYLE: Mapping[str, Any] = MappingProxyType({"color": "#566573", "weight": 1, "fill": False,
                                                     "dashArray": "4 4"})  # fmt: skip
#: Heat layer look: radius and blur in pixels.
HEAT_RADIUS_PX, HEAT_BLUR_PX = 14, 16


def base_map(basemap: Basemap, bounds: Sequence[float] | None) -> folium.Map:
    """An empty map on ``basemap`` fitted to lon/lat ``bounds`` (minx, miny, maxx, maxy), with a scale bar."""
    m = folium.Map(location=EMPTY_CENTRE_LATLON, zoom_start=EMPTY_ZOOM, tiles=None, control_scale=True)
    add_basemap(m, basemap)
    if bounds is not None and all(np.isfinite(bounds)):
        box = shapely.box(float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))
        corners = display_geometries([box], basemap)[0].bounds
        m.fit_bounds([[corners[1], corners[0]], [corners[3], corners[2]]])
    return m


def _display_points(data: npt.NDArray[np.float64], basemap: Basemap) -> list[list[float]]:
    """[lat, lon, weight] rows in the basemap's datum."""
    if len(data) == 0:
        return []
    lat, lon = data[:, 0], data[:, 1]
    if basemap.overlay_crs != "EPSG:4326":
        from gridmap.crs import from_wgs84

        lon, lat = from_wgs84(lon, lat, basemap.overlay_crs)
    return np.column_stack([np.round(lat, 5), np.round(lon, 5), data[:, 2]]).tolist()


def _heat_layer(points: HeatPoints, name: str, basemap: Basemap, *, show: bool) -> plugins.HeatMap:
    return plugins.HeatMap(_display_points(points.data, basemap), name=html.escape(name), radius=HEAT_RADIUS_PX,
                           blur=HEAT_BLUR_PX, min_opacity=0.3, show=show)


def add_outline(m: folium.Map, outline: gpd.GeoDataFrame | None, basemap: Basemap) -> None:
    """Thin, non-interactive boundaries (communities) under the heat, for orientation."""
    if outline is None or outline.empty:
        return
    geoms = [g for g in display_geometries(outline.geometry.to_numpy(), basemap) if g is not None and not g.is_empty]
    collection = {"type": "FeatureCollection",
                  "features": [{"type": "Feature", "properties": {}, "geometry": g.__geo_interface__} for g in geoms]}
    folium.GeoJson(collection, style_function=lambda _f: dict(OUTLINE_STYLE), interactive=False,
                   control=False).add_to(m)


def _add_outlines(m: folium.Map, outline: gpd.GeoDataFrame | None, layer: Layer | None,
                  basemap: Basemap) -> None:  # fmt: skip
    """The tiled outline ``layer`` if given (a city), else ``outline`` embedded."""
    if layer is not None:
        layer.add_to(m)
    else:
        add_outline(m, outline, basemap)


def heat_map(layers: HeatLayers, *, basemap: Basemap, text: Text, bounds: Sequence[float] | None,
             outline: gpd.GeoDataFrame | None = None, outline_layer: Layer | None = None) -> folium.Map:
    """The "all incidents" heat layer (shown) and one layer per category (hidden; pick in the layer control).

    ``outline_layer`` (community outlines from tiles, for a city) replaces the embedded ``outline``.
    """
    m = base_map(basemap, bounds)
    _add_outlines(m, outline, outline_layer, basemap)
    if len(layers.all.data):
        _heat_layer(layers.all, text("heat.all"), basemap, show=True).add_to(m)
    for category, points in layers.categories.items():
        if len(points.data):
            _heat_layer(points, category, basemap, show=False).add_to(m)
    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(m)
    CompactOnSmallScreens(control).add_to(m)
    return m


def _scaled(data: npt.NDArray[np.float64], top: float) -> npt.NDArray[np.float64]:
    out = np.array(data, dtype=float, copy=True)
    if len(out):
        out[:, 2] = np.round(out[:, 2] / top, 4)
    return out


def weekly_heat_map(frames: HeatFrames, *, basemap: Basemap, bounds: Sequence[float] | None,
                    outline: gpd.GeoDataFrame | None = None, outline_layer: Layer | None = None) -> folium.Map:
    """An animated heat layer, one frame per week (labels are the weeks' Mondays); vendored TimeDimension."""
    m = base_map(basemap, bounds)
    _add_outlines(m, outline, outline_layer, basemap)
    if frames.frames:
        # HeatMapWithTime wants weights in (0, 1]: divide by the largest weight of any week, so that
        # weeks stay comparable (a quiet week looks quiet) instead of every frame saturating.
        top = max((float(f.data[:, 2].max()) for f in frames.frames if len(f.data)), default=1.0) or 1.0
        data = [_display_points(_scaled(f.data, top), basemap) for f in frames.frames]
        plugins.HeatMapWithTime(data, index=list(frames.labels), radius=HEAT_RADIUS_PX + 10, min_opacity=0.2,
                                max_opacity=0.8, auto_play=False, position="bottomleft").add_to(m)
    return m


def _legend(title: str, rows: Sequence[tuple[str, str]]) -> Legend:
    body = "".join(f'<div class="gm-legend-row"><span class="gm-swatch" style="background:{colour}"></span>'
                   f"{html.escape(label)}</div>" for colour, label in rows)
    return Legend(f'<div class="gm-legend-title">{html.escape(title)}</div>{body}')


def emerging_colour(category: str) -> str:
    """Fill of an emerging-hotspot category ("intensifying hot spot" ...)."""
    kind, _, spot = category.partition(" ")
    if spot == "hot spot":
        return EMERGING_COLOURS.get(kind, NO_PATTERN_COLOUR)
    if spot == "cold spot":
        return COLD_COLOURS.get(kind, NO_PATTERN_COLOUR)
    return NO_PATTERN_COLOUR


def quantile_colours(values: npt.ArrayLike) -> tuple[list[str], list[tuple[str, str]]]:
    """A colour per value (up to five quantile classes; fewer when values repeat) and the legend rows."""
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    if len(finite) == 0:
        return [NO_PATTERN_COLOUR] * len(v), []
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, len(QUANTILE_COLOURS) + 1)))
    k = max(1, len(edges) - 1)
    top = len(QUANTILE_COLOURS) - 1
    palette = [QUANTILE_COLOURS[round(j * top / (k - 1))] if k > 1 else QUANTILE_COLOURS[top] for j in range(k)]
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, k - 1)
    colours = [palette[int(i)] if np.isfinite(x) else NO_PATTERN_COLOUR for i, x in zip(idx, v, strict=True)]
    if len(edges) == 1:
        return colours, [(palette[0], f"{edges[0]:,.0f}")]
    return colours, [(palette[i], f"{edges[i]:,.0f} – {edges[i + 1]:,.0f}") for i in range(k)]


@dataclass(frozen=True)
class TiledCells:
    """Draw a choropleth's cells from the ``layer`` tiles under ``root``, matched to its rows by code.

    ``codes[i]`` is row i's grid or area code (the tiles' ``code`` property), ``labels[i]`` the name
    of its class (bin, pattern, value range), shown under ``class_title`` in the click popup with the
    feature's name and code from the tile. The other ``fields`` are not embedded: the page's table
    has them.
    """

    root: str
    layer: str
    codes: Sequence[str]
    labels: Sequence[str]
    class_title: str
    tr: Translator


def choropleth_map(
    frame: gpd.GeoDataFrame,
    *,
    fills: Sequence[str],
    fields: Mapping[str, Sequence[str]],
    basemap: Basemap,
    legend_title: str,
    legend_rows: Sequence[tuple[str, str]],
    layer_name: str,
    tiled: TiledCells | None = None,
) -> folium.Map:
    """Cells filled with ``fills`` (one colour per row); popups and tooltips show ``fields`` (label -> texts).

    ``fields`` values are shown as text: they are escaped here, whatever they hold. With ``tiled``
    no geometry is embedded: the cells come from vector tiles, each filled by its row's class.
    """
    bounds = tuple(float(b) for b in frame.total_bounds) if len(frame) else None
    m = base_map(basemap, bounds)
    if tiled is not None:
        classes = TileClasses.from_rows(tiled.codes, fills, tiled.labels)
        layer = TiledClassLayer(tiled.layer, classes, style={**CELL_STYLE, "className": RESULT_CLASS},
                                name=html.escape(layer_name), root=tiled.root)  # fmt: skip
        layer.add_to(m)
        TiledPopup(layer, m.get_name(), tiled.tr, fields=("name", "code"), class_title=tiled.class_title).add_to(m)
        _legend(legend_title, legend_rows).add_to(m)
        return m
    geoms = display_geometries(frame.geometry.to_numpy(), basemap)
    labels = list(fields)
    keys = [f"f{i}" for i in range(len(labels))]
    features = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        props = {k: escape_text(fields[label][i]) for k, label in zip(keys, labels, strict=True)}
        props["_fill"] = fills[i]
        features.append({"type": "Feature", "properties": props, "geometry": geom.__geo_interface__})
    aliases = [html.escape(label) for label in labels]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=html.escape(layer_name),
        style_function=lambda f: {**CELL_STYLE, "fillColor": f["properties"]["_fill"]},
        highlight_function=lambda _f: {"weight": 2.5, "fillOpacity": 0.9},
        tooltip=folium.GeoJsonTooltip(fields=keys[:2], aliases=aliases[:2], sticky=True),
        popup=folium.GeoJsonPopup(fields=keys, aliases=aliases),
        className=RESULT_CLASS,
    ).add_to(m)
    _legend(legend_title, legend_rows).add_to(m)
    return m
