"""Basemaps: none (plain background, the default), OpenStreetMap, Tianditu (天地图) and AMap (高德).

Why "none" is the default: portals often run without internet; a plain background still shows
every boundary, and nothing is requested from outside. The tiled basemaps differ in datum:

* OpenStreetMap and Tianditu are WGS84 / CGCS2000 (equal at metre level), so overlays are drawn
  from stored coordinates as they are.
* AMap tiles are in GCJ-02 (the Chinese offset datum, 100-700 m off WGS84), so every overlay must
  be shifted to GCJ-02 before drawing or it lands on the wrong street: :attr:`Basemap.overlay_crs`.

With no internet the tiles just fail to load (Leaflet ignores tile errors) and the overlays still
show on the map's background colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import folium

from gridmap.config import Settings
from gridmap.errors import ValidationError

BASEMAP_KINDS: tuple[str, ...] = ("none", "osm", "tianditu", "amap")
#: Map background when tiles are absent or fail, a light neutral so boundaries stay readable.
PLAIN_BACKGROUND = "#eef1f4"

_TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
    "&TILECOL={{x}}&tk={key}"
)
_AMAP_URL = "https://webrd0{{s}}.is.autonavi.com/appmaptile?lang={lang}&size=1&scale=1&style=8&x={{x}}&y={{y}}&z={{z}}"
_ORIGIN = re.compile(r"^(https?://[^/?#]+)")


@dataclass(frozen=True)
class TileSource:
    """One XYZ tile layer. ``url`` uses Leaflet placeholders ({s}, {z}, {x}, {y})."""

    name: str
    url: str
    attribution: str
    subdomains: str = ""
    max_zoom: int = 18

    @property
    def origins(self) -> tuple[str, ...]:
        """The ``scheme://host`` origins the browser will fetch tiles from (for the CSP img-src)."""
        urls = [self.url.replace("{s}", s) for s in self.subdomains] if "{s}" in self.url else [self.url]
        found = []
        for url in urls:
            match = _ORIGIN.match(url)
            if match and match.group(1) not in found:
                found.append(match.group(1))
        return tuple(found)


@dataclass(frozen=True)
class Basemap:
    """What is drawn under the overlays, and in which datum the overlays must be drawn."""

    kind: str = "none"
    tiles: tuple[TileSource, ...] = ()
    #: ``EPSG:4326`` (draw stored lon/lat as is) or ``gcj02`` (shift overlays first, for AMap).
    overlay_crs: str = "EPSG:4326"
    background: str = PLAIN_BACKGROUND

    @property
    def tile_urls(self) -> tuple[str, ...]:
        return tuple(t.url for t in self.tiles)

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for t in self.tiles for o in t.origins))


def basemap_from_settings(settings: Settings, *, lang: str = "zh") -> Basemap:
    """The basemap named by ``settings.basemap``; Tianditu needs ``settings.tianditu_key``.

    ``lang`` picks the label language where the provider offers one (Tianditu eva_w, AMap lang=en).
    """
    kind = settings.basemap.strip().lower()
    if kind == "none":
        return Basemap()
    if kind == "osm":
        osm = TileSource("OpenStreetMap", settings.tile_url_osm, "&copy; OpenStreetMap contributors", "abc", 19)
        return Basemap("osm", (osm,))
    if kind == "tianditu":
        if not settings.tianditu_key.strip():
            raise ValidationError(
                "setting basemap='tianditu' needs a Tianditu key: set tianditu_key in the config file"
                " or GRIDMAP_TIANDITU_KEY (rule: 天地图 tiles are only served with a key)"
            )
        key = quote(settings.tianditu_key.strip(), safe="")
        labels = "eva" if lang == "en" else "cva"
        attr = "&copy; 天地图 Tianditu"
        vec = TileSource("天地图 矢量", _TIANDITU_URL.format(layer="vec", key=key), attr, "01234567")
        cva = TileSource("天地图 注记", _TIANDITU_URL.format(layer=labels, key=key), attr, "01234567")
        return Basemap("tianditu", (vec, cva))
    if kind == "amap":
        url = _AMAP_URL.format(lang="en" if lang == "en" else "zh_cn")
        amap = TileSource("高德地图 AMap", url, "&copy; 高德地图 AutoNavi", "1234")
        return Basemap("amap", (amap,), overlay_crs="gcj02")
    raise ValidationError(
        f"setting basemap={settings.basemap!r} is unknown; choose one of {', '.join(BASEMAP_KINDS)}"
    )


def add_basemap(m: folium.Map, basemap: Basemap) -> None:
    """Add the basemap's tile layers to ``m`` (the first is the base layer, the rest overlays).

    Tianditu's label layer is an overlay on the vector layer; both stay out of the layer control's
    overlay list so the control lists only our data layers.
    """
    for i, tile in enumerate(basemap.tiles):
        folium.TileLayer(
            tiles=tile.url,
            attr=tile.attribution,
            name=tile.name,
            subdomains=tile.subdomains or "abc",
            max_zoom=tile.max_zoom,
            overlay=i > 0,
            control=False,
        ).add_to(m)
