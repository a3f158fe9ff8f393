"""Basemap choice from settings: tile URLs, keys, origins for the CSP, datum of the overlays."""

from __future__ import annotations

import pytest

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.portal.maps.basemaps import basemap_from_settings


def test_none_is_the_default_and_has_no_tiles() -> None:
    basemap = basemap_from_settings(Settings())
    assert basemap.kind == "none"
    assert basemap.tiles == () and basemap.origins == ()
    assert basemap.overlay_crs == "EPSG:4326"


def test_osm_uses_the_configured_url() -> None:
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    basemap = basemap_from_settings(Settings(basemap="osm", tile_url_osm=url))
    assert basemap.tile_urls == (url,)
    assert basemap.origins == ("https://tiles.example.org",)
    assert basemap.overlay_crs == "EPSG:4326"


def test_tianditu_needs_a_key_and_quotes_it() -> None:
    with pytest.raises(ValidationError, match="tianditu_key"):
        basemap_from_settings(Settings(basemap="tianditu"))
    basemap = basemap_from_settings(Settings(basemap="tianditu", tianditu_key="ab&c"), lang="zh")
    vec, labels = basemap.tiles
    assert "LAYER=vec" in vec.url and "LAYER=cva" in labels.url
    assert vec.url.endswith("tk=ab%26c")
    # Eight load-balanced hosts t0..t7, all of which the CSP must allow.
    assert basemap.origins == tuple(f"https://t{i}.tianditu.gov.cn" for i in range(8))
    assert basemap.overlay_crs == "EPSG:4326"  # CGCS2000 = WGS84 at metre level: no shift
    english = basemap_from_settings(Settings(basemap="tianditu", tianditu_key="k"), lang="en")
    assert "LAYER=eva" in english.tiles[1].url


def test_amap_draws_overlays_in_gcj02() -> None:
    basemap = basemap_from_settings(Settings(basemap="amap"))
    assert basemap.overlay_crs == "gcj02"
    assert basemap.origins == tuple(f"https://webrd0{i}.is.autonavi.com" for i in range(1, 5))


def test_unknown_basemap_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="none, osm, tianditu, amap"):
        basemap_from_settings(Settings(basemap="google"))
