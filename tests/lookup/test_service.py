"""LookupService: input validation, CRS conversion, swapped lon/lat, batches, addresses, rebuild on activation."""

from __future__ import annotations

import geopandas as gpd
import pytest

from gridmap import schema
from gridmap.analysis.lookup import LookupIndex
from gridmap.config import Settings
from gridmap.crs import from_wgs84
from gridmap.errors import NotFoundError, ValidationError
from gridmap.services.generations import activate_generation, stage_generation
from gridmap.services.lookup import MAX_BATCH_POINTS, LookupService
from gridmap.store.gpkg import GeoPackageStore
from tests.lookup import fixtures as fx

A1 = fx.COMM_A + "001"


class FakeClock:
    """A clock the test moves by hand (no sleeping)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = Settings()
    store = GeoPackageStore(f"gpkg://{tmp_path_factory.mktemp('lookup')}/svc.gpkg", settings)
    store.migrate()
    fx.fill_store(store)
    yield store
    store.close()


@pytest.fixture
def service(filled_store) -> LookupService:  # type: ignore[no-untyped-def]
    return LookupService(filled_store, Settings(), key_check_interval_s=0.0)


def test_point_in_every_crs(service: LookupService) -> None:
    lon, lat = fx.xy(1, 5)
    assert service.lookup_point(lon, lat).grid.code == A1
    assert service.lookup_point(str(lon), str(lat), crs="EPSG:4326").grid.code == A1
    assert service.lookup_point(lon, lat, crs="cgcs2000").grid.code == A1
    for name in ("gcj02", "bd09"):
        x, y = from_wgs84(lon, lat, name)
        assert abs(x - lon) > 1e-4  # the offset is real (hundreds of metres) ...
        result = service.lookup_point(x, y, crs=name)
        assert result.grid.code == A1  # ... and undone before the lookup
        assert result.lon == pytest.approx(lon, abs=1e-7) and result.lat == pytest.approx(lat, abs=1e-7)
    ex, ny = from_wgs84(lon, lat, "EPSG:4547")  # CGCS2000 3-degree Gauss-Krüger, metres
    assert service.lookup_point(ex, ny, crs="4547").grid.code == A1


@pytest.mark.parametrize(
    ("x", "y", "crs", "match"),
    [
        ("abc", "35.7", None, "lon must be a number"),
        ("114.2", "", None, "lat must be a number"),
        ("nan", "35.7", None, "finite"),
        ("114.2", "inf", None, "finite"),
        ("200", "35.7", None, "out of range"),
        ("114.2", "-95", None, "out of range"),
        ("114.2", "35.7", "mars", "unknown CRS"),
        ("114.2", "35.7", "EPSG:999999", "unknown CRS"),
    ],
)
def test_bad_points_are_validation_errors(service: LookupService, x: str, y: str, crs: str | None, match: str) -> None:
    with pytest.raises(ValidationError, match=match) as err:
        service.lookup_point(x, y, crs=crs)
    assert err.value.http_status == 400


def test_swapped_lon_lat_is_detected(service: LookupService) -> None:
    lon, lat = fx.xy(1, 5)
    with pytest.raises(ValidationError, match="swapped") as err:
        service.lookup_point(lat, lon)
    assert err.value.code == "swapped_coordinates"
    assert err.value.details == {"lon": lat, "lat": lon, "suggestion": [lon, lat]}
    # a point outside the area whose swap is outside too is a plain 404, not "swapped"
    with pytest.raises(NotFoundError):
        service.lookup_point(lon + 0.5, lat)


def test_batch(service: LookupService) -> None:
    pts = [list(fx.xy(1, 5)), list(fx.xy(9, 1)), list(fx.xy(30, 3))]
    assert service.lookup_points(pts) == [A1, fx.COMM_B + "001", None]
    gcj = [list(from_wgs84(x, y, "gcj02")) for x, y in pts[:2]]
    assert service.lookup_points(gcj, crs="gcj02") == [A1, fx.COMM_B + "001"]
    assert service.lookup_points([]) == []


@pytest.mark.parametrize(
    ("points", "match"),
    [
        ([[0.0, 0.0]] * (MAX_BATCH_POINTS + 1), "limit of 10000"),
        ("114,35", "list of"),
        ([[114.0]], "point 0"),
        ([[114.0, 35.0], [114.0, "x"]], "point 1"),
        ([[114.0, 35.0], [True, 35.0]], "point 1"),
        ([[114.0, 35.0], [181.0, 35.0]], r"points \[1\] are out of range"),
        ([[float("nan"), 35.0]], "not finite"),
    ],
)
def test_bad_batches(service: LookupService, points: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        service.lookup_points(points)


def test_address(service: LookupService) -> None:
    answer = service.search_address("淇滨区淇河路１２号")
    best, code, name = answer.candidates[0]
    assert (best.label, code, name) == ("淇河路12号", A1, "甲社区第一网格")
    assert answer.result is not None and answer.result.grid.code == A1
    estate = service.search_address("翠苑小区三号楼")
    assert estate.candidates[0][1] == fx.COMM_B + "002"
    outside = service.search_address("黎阳路1号")  # a building in community C, which has no grids
    assert outside.candidates[0][1] is None
    body = answer.to_dict()
    assert set(body) == {"query", "candidates", "result"}
    with pytest.raises(ValidationError, match="empty"):
        service.search_address("  ")
    with pytest.raises(NotFoundError):
        service.search_address("ZZZ")


def test_index_is_rebuilt_when_a_generation_is_activated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = GeoPackageStore(f"gpkg://{tmp_path}/rebuild.gpkg", Settings())
    store.migrate()
    fx.fill_store(store, with_addresses=False)
    clock = FakeClock()
    service = LookupService(store, Settings(), key_check_interval_s=5.0, clock=clock)
    lon, lat = fx.xy(6, 5)
    assert service.lookup_point(lon, lat).grid.code == fx.COMM_A + "002"
    assert service.rebuilds == 1
    # a new generation of community A: one single grid for the whole community
    grids = fx.grids_frame()
    merged = gpd.GeoDataFrame(
        {"code": [fx.COMM_A + "001"], "name": ["甲社区第一网格"], "kind": ["base"], "community_code": [fx.COMM_A]},
        geometry=[fx.box(0, 0, 8, 6)],
        crs=4326,
    )
    with store.transaction() as tx:
        gen = stage_generation(tx, fx.COMM_A, merged)
    activate_generation(store, gen, actor="test")
    assert service.lookup_point(lon, lat).grid.code == fx.COMM_A + "002"  # within the check interval
    clock.now += 5.0
    assert service.lookup_point(lon, lat).grid.code == fx.COMM_A + "001"  # key changed -> rebuilt
    assert service.rebuilds == 2
    assert service.index().generation_key[-1][0] == gen
    clock.now += 5.0
    service.lookup_point(lon, lat)
    assert service.rebuilds == 2  # same key: no rebuild
    assert len(grids) == 8
    assert store.count(schema.GRIDS) == 9


def test_concurrent_first_requests_build_the_index_once(filled_store) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    service = LookupService(filled_store, Settings(), key_check_interval_s=0.0)
    points = [fx.xy(1 + (k % 7), 1 + (k % 5)) for k in range(64)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda p: service.lookup_point(*p).grid.code, points))
    assert service.rebuilds == 1
    index = LookupIndex.from_store(filled_store)
    assert codes == [index.lookup(*p).grid.code for p in points]


def test_worker_changes_show_after_max_age_or_invalidate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = GeoPackageStore(f"gpkg://{tmp_path}/people.gpkg", Settings())
    store.migrate()
    fx.fill_store(store, with_addresses=False)
    clock = FakeClock()
    service = LookupService(store, Settings(), key_check_interval_s=1.0, max_age_s=300.0, clock=clock)
    pt = fx.xy(9, 5)  # grid B1, worker 陈静 (w5)
    assert [w.name for w in service.lookup_point(*pt).workers] == ["陈静"]
    with store.transaction() as tx:
        assert tx.update(schema.WORKERS, {"worker_id": "w5"}, {"name": "陈静怡", "phone": "13900000005"}) == 1
    clock.now += 10.0  # key checked, unchanged: the snapshot is kept
    assert [w.name for w in service.lookup_point(*pt).workers] == ["陈静"]
    clock.now += 300.0  # older than max_age_s: rebuilt with the new worker data
    workers = service.lookup_point(*pt).workers
    assert [(w.name, w.phone) for w in workers] == [("陈静怡", "13900000005")]
    assert service.rebuilds == 2
    with store.transaction() as tx:
        tx.update(schema.WORKERS, {"worker_id": "w5"}, {"name": "陈静"})
    service.invalidate()
    assert [w.name for w in service.lookup_point(*pt).workers] == ["陈静"]
    assert service.rebuilds == 3
