"""Offline maps: every link points at a vendored file, and nothing but tiles points outside."""

from __future__ import annotations

import re

import branca.colormap
import folium
import folium.folium
import pytest
from folium import plugins

from gridmap.config import BAND_PRESETS, Settings
from gridmap.portal.maps.assets import (
    VENDORED_ASSETS,
    AssetNotVendoredError,
    add_nonce,
    fragments_from_map,
    html_from_map,
    offline_map,
    web_root,
)
from gridmap.portal.maps.basemaps import basemap_from_settings
from gridmap.portal.maps.hierarchy import hierarchy_map

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)\\]+""")
VENDOR = web_root() / "static" / "vendor"
#: Where our vendored version knowingly differs from the one Folium links (see vendor/README.md).
KNOWN_VERSION_DIFFERENCES = {
    "awesome_markers": "Folium links 2.0.2 (cdnjs); npm has 2.0.0/2.0.4/2.0.5, we ship 2.0.5",
    "awesome_markers_css": "as awesome_markers",
    "glyphicons_css": "Folium links the 3.0.0 standalone glyphicons css (not on npm); extracted from 3.4.1",
    "awesome_rotate_css": "Folium links its own repository file; regenerated",
    "leaflet-heat.js": "Folium links its own patched copy; shipped from the folium wheel",
    "heatmap.min.js": "HeatMapWithTime links Folium's repository copy; shipped from the folium wheel",
    "leaflet-heatmap.js": "as heatmap.min.js",
    "vectorGrid": "Folium links unpkg's @latest; we pin the latest release, 1.3.0 (npm)",
}


def _external_urls(page: str) -> set[str]:
    """Every absolute or protocol-relative URL, also inside JSON strings (which spell & as \\u0026)."""
    decoded = re.sub(r"\\u([0-9a-fA-F]{4})", lambda mt: chr(int(mt.group(1), 16)), page)
    return set(URL.findall(decoded))


def _everything_map(settings: Settings) -> folium.Map:
    """The hierarchy map plus every other layer type the portal uses or plans to use."""
    from portal_sample import areas_frame, grids_frame

    m = hierarchy_map(
        areas_frame(), grids_frame(), basemap=basemap_from_settings(settings), lang="zh", band=BAND_PRESETS["urban"]
    )
    cluster = plugins.MarkerCluster(name="events").add_to(m)
    folium.Marker([35.72, 114.02], icon=folium.Icon(icon="info-sign"), tooltip="t").add_to(cluster)
    folium.Marker([35.73, 114.03], icon=folium.Icon(icon="fire", prefix="fa", angle=30)).add_to(cluster)
    folium.CircleMarker([35.74, 114.04], radius=6).add_to(m)
    plugins.HeatMap([[35.72, 114.02, 1.0], [35.75, 114.05, 3.0]], name="heat").add_to(m)
    plugins.HeatMapWithTime([[[35.72, 114.02, 1.0]], [[35.75, 114.05, 3.0]]], index=["w1", "w2"]).add_to(m)
    branca.colormap.LinearColormap(["#ffffff", "#ff0000"], vmin=0, vmax=10, caption="rate").add_to(m)
    plugins.VectorGridProtobuf("/tiles/grids/{z}/{x}/{y}.mvt", name="tiled").add_to(m)
    return m


def test_every_vendored_file_exists_and_is_documented() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    for name, rel in VENDORED_ASSETS.items():
        path = VENDOR / rel
        assert path.is_file() and path.stat().st_size > 0, f"{name}: {path} missing"
        assert f"`{rel.split('/')[0]}/`" in readme, f"{rel.split('/')[0]} not in vendor/README.md"
    for directory in VENDOR.iterdir():
        if directory.is_dir():
            assert any(p.name.lower().startswith(("license", "mit-licence")) for p in directory.iterdir()), directory
            assert f"`{directory.name}/`" in readme, f"{directory.name} not documented"


def test_vendored_versions_match_what_folium_links() -> None:
    # Fails on a Folium upgrade that moves a library: re-vendor then (see vendor/README.md).
    folium_links = dict(folium.folium._default_js + folium.folium._default_css)
    folium_links.update(plugins.MarkerCluster.default_js + plugins.MarkerCluster.default_css)
    folium_links.update(plugins.HeatMap.default_js)
    folium_links.update(plugins.HeatMapWithTime.default_js + plugins.HeatMapWithTime.default_css)
    folium_links["d3"] = "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js"  # branca ColorMap.render
    folium_links.update(plugins.VectorGridProtobuf.default_js)  # the tiled layers of city-size maps
    assert set(folium_links) == set(VENDORED_ASSETS)
    for name, rel in VENDORED_ASSETS.items():
        if name in KNOWN_VERSION_DIFFERENCES:
            continue
        version = rel.split("/")[0].rsplit("-", 1)[1]
        assert version in folium_links[name], f"{name}: we ship {version}, folium links {folium_links[name]}"


@pytest.mark.parametrize("basemap", ["none", "osm", "tianditu", "amap"])
def test_map_with_every_layer_type_links_nothing_outside_but_tiles(basemap: str) -> None:
    settings = Settings(basemap=basemap, tianditu_key="testkey")
    page = html_from_map(_everything_map(settings))
    allowed = set(basemap_from_settings(settings, lang="zh").tile_urls)
    assert _external_urls(page) <= allowed
    if basemap == "none":
        assert _external_urls(page) == set()
    else:
        assert allowed <= _external_urls(page)  # the tile layers really are on the map
    local = re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', page)
    assert len(local) == len(set(local)) >= len(VENDORED_ASSETS)
    for url in local:
        assert (VENDOR / url.removeprefix("/static/vendor/")).is_file(), url


def test_offline_rewrite_is_per_map_not_global() -> None:
    before_js, before_css = list(folium.Map.default_js), list(folium.Map.default_css)
    offline_map(folium.Map(tiles=None), static_url="/app/static")
    assert folium.Map.default_js == before_js and folium.Map.default_css == before_css
    plain = folium.Map(tiles=None).get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in plain  # other maps unchanged
    prefixed = html_from_map(folium.Map(tiles=None), static_url="/app/static")
    assert '<script src="/app/static/vendor/leaflet-1.9.3/leaflet.js">' in prefixed


def test_unvendored_plugin_fails_loudly_naming_the_asset() -> None:
    m = folium.Map(tiles=None)
    plugins.Fullscreen().add_to(m)
    with pytest.raises(AssetNotVendoredError, match=r"Control\.Fullscreen\.js"):
        html_from_map(m)


def test_fragments_put_the_nonce_on_head_scripts_only() -> None:
    m = folium.Map(tiles=None)
    parts = fragments_from_map(m, nonce="abc123")
    scripts = re.findall(r"<script[^>]*>", parts.head)
    assert scripts and all('nonce="abc123"' in s for s in scripts)
    assert "L.map(" in parts.script and "<script" not in parts.script
    assert 'class="folium-map"' in parts.body


def test_add_nonce_leaves_lookalike_tags_alone() -> None:
    assert add_nonce("<scripts><script>x</script><script src='a'>", "n") == (
        '<scripts><script nonce="n">x</script><script nonce="n" src=\'a\'>'
    )
