"""Offline maps: point every JS/CSS link of a Folium map at our vendored copies under /static/vendor.

Folium, branca and Folium's plugins link Leaflet, jQuery, Bootstrap, Font Awesome... on public CDNs.
Portals in government networks have no internet, and a CDN is a privacy leak anyway, so every map
we render uses the copies in ``web/static/vendor`` (provenance and licences in its README.md).

How: Folium adds its links while rendering, with ``figure.header.add_child(JavascriptLink(url),
name=name)`` (in ``JSCSSMixin.render`` from the class-level ``default_js``/``default_css`` lists, and
directly in branca's ``ColorMap.render`` for d3). Instead of mutating those class attributes, which
would change every map in the process, :func:`offline_map` swaps *this map's* figure header for an
:class:`OfflineHeader` that rewrites each link as it is added, by the link's name. A link whose name
we do not know, pointing off-site, raises an error naming it: a plugin we have not vendored must
fail loudly in tests, never phone home quietly in production.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import folium
from branca.element import Element, Figure, Link

import gridmap
from gridmap.errors import GridmapError

#: Folium/branca link name -> file under ``web/static/vendor``. Keep in sync with vendor/README.md.
VENDORED_ASSETS: Mapping[str, str] = MappingProxyType(
    {
        # folium.Map
        "leaflet": "leaflet-1.9.3/leaflet.js",
        "jquery": "jquery-3.7.1/jquery.min.js",
        "bootstrap": "bootstrap-5.2.2/js/bootstrap.bundle.min.js",
        "awesome_markers": "leaflet.awesome-markers-2.0.5/leaflet.awesome-markers.js",
        "leaflet_css": "leaflet-1.9.3/leaflet.css",
        "bootstrap_css": "bootstrap-5.2.2/css/bootstrap.min.css",
        "glyphicons_css": "bootstrap-3.4.1/css/glyphicons.css",
        "awesome_markers_font_css": "fontawesome-free-6.2.0/css/all.min.css",
        "awesome_markers_css": "leaflet.awesome-markers-2.0.5/leaflet.awesome-markers.css",
        "awesome_rotate_css": "folium-0.20.0/leaflet.awesome.rotate.css",
        # folium.plugins.MarkerCluster
        "markerclusterjs": "leaflet.markercluster-1.1.0/leaflet.markercluster.js",
        "markerclustercss": "leaflet.markercluster-1.1.0/MarkerCluster.css",
        "markerclusterdefaultcss": "leaflet.markercluster-1.1.0/MarkerCluster.Default.css",
        # folium.plugins.HeatMap
        "leaflet-heat.js": "folium-0.20.0/leaflet_heat.min.js",
        # folium.plugins.HeatMapWithTime (the analysis pages' weekly view)
        "iso8601": "iso8601-js-period-0.2.1/iso8601.js",
        "leaflet.timedimension.min.js": "leaflet-timedimension-1.1.1/leaflet.timedimension.min.js",
        "leaflet.timedimension.control.min.css": "leaflet-timedimension-1.1.1/leaflet.timedimension.control.css",
        "heatmap.min.js": "folium-0.20.0/pa7_hm.min.js",
        "leaflet-heatmap.js": "folium-0.20.0/pa7_leaflet_hm.min.js",
        # branca.colormap legends
        "d3": "d3-3.5.5/d3.min.js",
        # folium.plugins.VectorGridProtobuf (the /tiles layers of city-size maps)
        "vectorGrid": "leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js",
    }
)

_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_SCRIPT_OPEN = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


def web_root() -> Path:
    """The ``web/`` folder (templates, static): ``gridmap/web`` in a wheel, ``<repo>/web`` in a checkout.

    pyproject force-includes ``web/`` as ``gridmap/web`` in the wheel; an editable install runs
    from the checkout, where it sits next to the package.
    """
    package_dir = Path(gridmap.__file__).resolve().parent
    for candidate in (package_dir / "web", package_dir.parent / "web"):
        if (candidate / "templates").is_dir() and (candidate / "static").is_dir():
            return candidate
    raise GridmapError(
        f"portal assets not found: neither {package_dir / 'web'} nor {package_dir.parent / 'web'} has"
        " templates/ and static/; reinstall gridmap (the wheel ships web/ as gridmap/web)"
    )


class AssetNotVendoredError(GridmapError):
    """A map links a JS/CSS file from the internet that is not in web/static/vendor (500)."""

    code = "asset_not_vendored"


def vendored_url(name: str, *, static_url: str = "/static") -> str:
    """The local URL of a vendored asset by its Folium link name (``leaflet`` -> ``/static/vendor/...``)."""
    return f"{static_url.rstrip('/')}/vendor/{VENDORED_ASSETS[name]}"


def is_external(url: str) -> bool:
    """True for ``https://...``, ``http://...`` and protocol-relative ``//host/...`` URLs."""
    return bool(_EXTERNAL.match(url.strip()))


class OfflineHeader(Element):
    """A figure header that rewrites CDN links to vendored files as Folium adds them."""

    def __init__(self, *, static_url: str) -> None:
        super().__init__()
        self._name = "OfflineHeader"
        self.static_url = static_url

    def add_child(self, child: Element, name: str | None = None, index: int | None = None) -> Element:
        if isinstance(child, Link) and is_external(child.url):
            if name is None or name not in VENDORED_ASSETS:
                raise AssetNotVendoredError(
                    f"map asset {name!r} ({child.url}) is not vendored: add its files to web/static/vendor"
                    " (see vendor/README.md) and a line to gridmap.portal.maps.assets.VENDORED_ASSETS;"
                    " rule: portal maps load nothing from the internet"
                )
            child.url = vendored_url(name, static_url=self.static_url)
        return super().add_child(child, name=name, index=index)


def offline_map(m: folium.Map, *, static_url: str = "/static") -> folium.Map:
    """Make ``m`` (and every plugin on it) load its JS/CSS from ``static_url``/vendor; returns ``m``.

    Only this map's figure changes; Folium's class attributes and other maps are untouched. Safe
    to call twice.
    """
    figure = m.get_root()
    if not isinstance(figure, Figure):
        raise GridmapError(f"map {m.get_name()} is not inside a branca Figure; cannot render it offline")
    old = figure.header
    if isinstance(old, OfflineHeader) and old.static_url == static_url:
        return m
    header = OfflineHeader(static_url=static_url)
    header._parent = figure
    for child_name, child in old._children.items():
        header.add_child(child, name=child_name)
    figure.header = header
    return m


@dataclass(frozen=True)
class MapFragments:
    """A rendered map split for embedding in our own page template.

    ``head`` goes in ``<head>`` (links, styles, small inline scripts), ``body`` where the map
    should appear, ``script`` inside a ``<script>`` element at the end of ``<body>``.
    """

    head: str
    body: str
    script: str


def add_nonce(html: str, nonce: str) -> str:
    """Give every ``<script`` tag in trusted, Folium-rendered HTML the CSP nonce of this response."""
    return _SCRIPT_OPEN.sub(f'<script nonce="{nonce}"', html)


def fragments_from_map(m: folium.Map, *, static_url: str = "/static", nonce: str | None = None) -> MapFragments:
    """Render ``m`` offline into head/body/script parts (``nonce`` added to the head's scripts).

    Only call this on maps built by our own builders: user strings are escaped there, so any
    ``<script`` in the output is Folium's.
    """
    offline_map(m, static_url=static_url)
    figure = m.get_root()
    assert isinstance(figure, Figure)  # offline_map checked it
    figure.render()  # runs every element's render(), which fills header/html/script
    head = figure.header.render()
    if nonce:
        head = add_nonce(head, nonce)
    return MapFragments(head=head, body=figure.html.render(), script=figure.script.render())


def html_from_map(m: folium.Map, *, static_url: str = "/static", **kwargs: Any) -> str:
    """The whole standalone HTML page of ``m`` with vendored assets (for saving or tests)."""
    offline_map(m, static_url=static_url)
    return str(m.get_root().render(**kwargs))
