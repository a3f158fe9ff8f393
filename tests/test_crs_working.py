"""Tests for gridmap.crs naming and metric helpers: parse_crs, EPSG axis order, working CRS choice,
GeoDataFrame storage helpers, transform_geometries and looks_like_degrees.

Expected values come from pyproj used directly (without ``always_xy``), geodesic areas on the
ellipsoid, and the EPSG definitions of the CGCS2000 Gauss-Krüger zones; the GCJ-02/BD-09 maths is
tested in test_crs.py.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from gridmap import crs
from gridmap.config import Settings
from gridmap.errors import ValidationError

GEOD = pyproj.Geod(ellps="WGS84")
SEED = 20240611


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2], dtype=float)



# --- parse_crs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wgs84", crs.WGS84),
        ("WGS-84", crs.WGS84),
        ("  WGS84 ", crs.WGS84),
        ("CRS84", crs.WGS84),
        ("OGC:CRS84", crs.WGS84),
        ("EPSG:4326", crs.WGS84),
        ("epsg:4326", crs.WGS84),
        ("4326", crs.WGS84),
        ("urn:ogc:def:crs:EPSG::4326", crs.WGS84),
        ("cgcs2000", crs.CGCS2000),
        ("CGCS 2000", crs.CGCS2000),
        ("EPSG:4490", crs.CGCS2000),
        ("gcj02", crs.GCJ02),
        ("GCJ-02", crs.GCJ02),
        ("bd09", crs.BD09),
        ("BD-09", crs.BD09),
        ("bd09ll", crs.BD09),
        ("epsg:32650", crs.CrsSpec(epsg=32650)),
        ("4547", crs.CrsSpec(epsg=4547)),
        (4547, crs.CrsSpec(epsg=4547)),
    ],
)
def test_parse_crs_accepts(text, expected):
    spec = crs.parse_crs(text)
    assert spec == expected
    assert crs.parse_crs(spec.name) == spec


@pytest.mark.parametrize("text", ["foo", "", "EPSG:", "epsg:99999", "gcj", "wgs 85", "EPSG:5773", "EPSG:4978"])
def test_parse_crs_rejects(text):
    with pytest.raises(ValidationError) as info:
        crs.parse_crs(text)
    assert repr(text) in info.value.message
    if text in ("foo", "", "gcj", "wgs 85"):
        assert crs.ACCEPTED_FORMS in info.value.message
    assert info.value.http_status == 400


def test_parse_crs_rejects_non_text():
    with pytest.raises(ValidationError, match="not text"):
        crs.parse_crs(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not text"):
        crs.parse_crs(True)


def test_crs_spec_is_frozen_and_exclusive():
    assert crs.GCJ02.is_offset and crs.GCJ02.is_geographic
    assert not crs.WGS84.is_offset and crs.WGS84.is_geographic
    assert not crs.CrsSpec(epsg=4547).is_geographic
    with pytest.raises(dataclasses.FrozenInstanceError):
        crs.WGS84.epsg = 4490  # type: ignore[misc]
    with pytest.raises(ValidationError):
        crs.CrsSpec()
    with pytest.raises(ValidationError):
        crs.CrsSpec(epsg=4326, offset=crs.ChinaOffset.GCJ02)
    with pytest.raises(ValidationError, match="not a pyproj CRS"):
        crs.BD09.to_pyproj()
    assert crs.CGCS2000.to_pyproj().name == "China Geodetic Coordinate System 2000"


# --- EPSG transforms and axis order ----------------------------------------------------------


def test_epsg_4490_is_lon_lat_for_us_although_the_registry_says_lat_lon():
    assert [a.abbrev for a in pyproj.CRS.from_epsg(4490).axis_info] == ["Lat", "Lon"]
    lon, lat = crs.to_wgs84(116.391275, 39.906217, "EPSG:4490")
    assert abs(lon - 116.391275) < 1e-6 and abs(lat - 39.906217) < 1e-6
    x, y = crs.from_wgs84(116.391275, 39.906217, crs.CGCS2000)
    assert abs(x - 116.391275) < 1e-6 and abs(y - 39.906217) < 1e-6


def test_gauss_kruger_is_easting_northing_and_matches_pyproj():
    x, y = crs.from_wgs84(114.29, 35.75, "EPSG:4547")
    # registry order for EPSG:4547 is northing, easting: ask pyproj without always_xy
    northing, easting = pyproj.Transformer.from_crs(4326, 4547).transform(35.75, 114.29)
    assert abs(x - easting) < 1e-6 and abs(y - northing) < 1e-6
    assert 520_000 < x < 530_000  # 0.29° east of 114E at 35.75N is ~26 km
    assert 3_950_000 < y < 3_970_000
    back = crs.to_wgs84(x, y, crs.CrsSpec(epsg=4547))
    assert metres(114.29, 35.75, *back) < 1e-6


# --- working CRS -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (114.29, 35.75, 4547),  # Hebi -> CM 114E
        (116.4074, 39.9042, 4548),  # Beijing -> CM 117E
        (75.9898, 39.4677, 4534),  # Kashgar -> CM 75E
        (87.6168, 43.8256, 4538),  # Urumqi -> CM 87E
        (126.535, 45.8038, 4551),  # Harbin -> CM 126E
        (114.1722, 22.2940, 32650),  # Hong Kong -> UTM 50N
        (121.5654, 25.0330, 32651),  # Taipei -> UTM 51N
        (126.978, 37.5665, 32652),  # Seoul -> UTM 52N
        (151.2093, -33.8688, 32756),  # Sydney -> UTM 56S
        (-0.1276, 51.5072, 32630),  # London -> UTM 30N
    ],
)
def test_working_crs_choice(lon, lat, epsg):
    chosen = crs.working_crs_for((lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01))
    assert chosen.to_epsg() == epsg
    assert chosen.is_projected
    assert chosen.axis_info[0].unit_name == "metre"
    if 4534 <= epsg <= 4554:
        assert "Gauss-Kruger CM" in chosen.name
        central = next(p.value for p in chosen.coordinate_operation.params if "longitude" in p.name.lower())
        assert abs(central - lon) <= 1.5


def test_gk_zone_is_always_the_nearest_central_meridian():
    rng = np.random.default_rng(SEED)
    for lon in rng.uniform(73.6, 134.9, 200):
        code = crs.gauss_kruger_epsg(float(lon))
        central = 75 + 3 * (code - 4534)
        assert abs(central - lon) <= 1.5 + 1e-9
    assert crs.gauss_kruger_epsg(70.0) == 4534 and crs.gauss_kruger_epsg(137.0) == 4554


def test_working_crs_gives_true_areas():
    # a 0.01° x 0.01° cell at Hebi; geodesic area on the ellipsoid is the reference
    cell = box(114.28, 35.74, 114.29, 35.75)
    geodesic = abs(GEOD.geometry_area_perimeter(cell)[0])
    frame = gpd.GeoDataFrame(geometry=[cell], crs=4326)
    projected = crs.to_working(frame)
    assert projected.crs.to_epsg() == 4547
    assert abs(projected.geometry.area.iloc[0] / geodesic - 1) < 1e-4


def test_working_crs_from_geometries_and_frames():
    hebi = Point(114.29, 35.75)
    assert crs.working_crs_for(hebi).to_epsg() == 4547
    series = gpd.GeoSeries([hebi], crs=4326).to_crs(32650)  # declared projected CRS is honoured
    assert crs.working_crs_for(series).to_epsg() == 4547
    naive = gpd.GeoDataFrame(geometry=[hebi, None])  # no CRS: lon/lat assumed; missing rows skipped
    assert crs.working_crs_for(naive).to_epsg() == 4547


@pytest.mark.parametrize(
    ("extent", "message"),
    [
        (Point(), "empty"),
        ((500_000.0, 3_900_000.0, 510_000.0, 3_910_000.0), "not lon/lat degrees"),
        ((116.0, 40.0, 115.0, 41.0), "not valid bounds"),
        ((116.0, 40.0, 117.0), "4 numbers"),
        (gpd.GeoSeries([None, Polygon()]), "missing or empty"),
        (gpd.GeoSeries([Point(500_000, 3_900_000)]), "not lon/lat degrees"),
    ],
)
def test_working_crs_errors(extent, message):
    with pytest.raises(ValidationError, match=message):
        crs.working_crs_for(extent)


# --- GeoDataFrame helpers --------------------------------------------------------------------


def test_to_storage_uses_settings_epsg():
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(526_000, 3_957_000)], crs=4547)
    stored = crs.to_storage(frame, Settings(storage_epsg=4490))
    assert stored.crs.to_epsg() == 4490
    assert stored["v"].tolist() == [1]
    lon, lat = stored.geometry.iloc[0].x, stored.geometry.iloc[0].y
    assert (lon, lat) == pytest.approx(crs.to_wgs84(526_000.0, 3_957_000.0, "EPSG:4547"), abs=1e-7)
    assert crs.to_storage(frame, Settings()).crs.to_epsg() == 4326
    with pytest.raises(ValidationError, match="storage_epsg=3857"):
        crs.to_storage(frame, Settings(storage_epsg=3857))


def test_helpers_refuse_frames_without_crs():
    naive = gpd.GeoDataFrame(geometry=[Point(114.29, 35.75)])
    with pytest.raises(ValidationError, match="no CRS"):
        crs.to_working(naive)
    with pytest.raises(ValidationError, match="no CRS"):
        crs.to_storage(naive, Settings())


# --- transform_geometries --------------------------------------------------------------------


def test_transform_geometries_moves_every_vertex_like_the_point_functions():
    amap_polygon = Polygon([(114.28, 35.74), (114.30, 35.74), (114.30, 35.76), (114.28, 35.76)])
    wgs = crs.transform_geometries(amap_polygon, "gcj02", "wgs84")
    assert isinstance(wgs, Polygon) and wgs.is_valid
    src = shapely.get_coordinates(amap_polygon)
    expected = np.column_stack(crs.to_wgs84(src[:, 0], src[:, 1], "gcj02"))
    assert np.array_equal(shapely.get_coordinates(wgs), expected)
    back = crs.transform_geometries(wgs, crs.WGS84, crs.GCJ02)
    assert metres(*shapely.get_coordinates(back).T, *src.T).max() < 0.001


def test_transform_geometries_across_the_hong_kong_border():
    line = LineString([(114.0579, 22.5431), (114.1282, 22.5015)])  # Futian (Shenzhen) -> Sheung Shui (HK)
    moved = shapely.get_coordinates(crs.transform_geometries(line, "wgs84", "gcj02"))
    assert metres(114.0579, 22.5431, *moved[0]) > 100  # Shenzhen end shifted
    assert tuple(moved[1]) == (114.1282, 22.5015)  # Hong Kong end unchanged


def test_transform_geometries_arrays_series_and_z():
    geoms = [Point(116.4, 39.9), None, Point(116.5, 40.0, 55.0)]
    out = crs.transform_geometries(geoms, "wgs84", "bd09")
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert out[1] is None
    assert out[2].has_z and out[2].z == 55.0 and not out[0].has_z
    assert (out[0].x, out[0].y) == crs.from_wgs84(116.4, 39.9, "bd09")

    series = gpd.GeoSeries([Point(116.4, 39.9), Point(114.29, 35.75)], index=[7, 9], crs=4326)
    gk = crs.transform_geometries(series, "wgs84", "EPSG:4547")
    assert gk.index.tolist() == [7, 9] and gk.crs.to_epsg() == 4547
    direct = series.to_crs(4547)
    assert np.allclose(shapely.get_coordinates(gk.values), shapely.get_coordinates(direct.values), atol=1e-6)
    gcj = crs.transform_geometries(series, "wgs84", "gcj02")
    assert gcj.crs.to_epsg() == 4326  # display-only label, see the docstring
    with pytest.raises(ValidationError, match="labelled EPSG:4326 but crs_from is EPSG:4547"):
        crs.transform_geometries(series, "EPSG:4547", "wgs84")


# --- looks_like_degrees ----------------------------------------------------------------------


def test_looks_like_degrees():
    assert crs.looks_like_degrees([116.4, -180.0, 180.0], [39.9, -90.0, 90.0])
    assert crs.looks_like_degrees(116.4, 39.9)
    assert not crs.looks_like_degrees([526_000.0], [3_957_000.0])
    assert not crs.looks_like_degrees([116.4, 181.0], [39.9, 39.9])
    assert not crs.looks_like_degrees([116.4], [90.5])
    assert crs.looks_like_degrees([116.4, np.nan], [np.nan, 39.9])
    assert not crs.looks_like_degrees([np.inf], [0.0])
    assert crs.looks_like_degrees([], [])


@pytest.mark.parametrize("lon,lat", [(114.29, 35.74), (116.4, 39.9), (87.6, 43.8), (121.5, 25.0), (114.17, 22.3),
                                     (24.94, 60.17), (151.2, -33.9), (-74.0, 40.7), (0.0, 0.0)])
def test_working_epsg_at_a_point_is_the_zone_of_working_crs_for(lon: float, lat: float) -> None:
    assert crs.working_epsg_at(lon, lat) == crs.working_crs_for((lon, lat, lon, lat)).to_epsg()
