"""The in-memory lookup index: known points, shared edges and vertices, overlays, outside points."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from gridmap.analysis.lookup import PUBLIC_WORKER_FIELDS, TILING_KINDS, LookupIndex
from gridmap.errors import NotFoundError
from tests.lookup import fixtures as fx

A1, A2, A3, A4 = (fx.COMM_A + s for s in ("001", "002", "003", "004"))
B1, B2 = fx.COMM_B + "001", fx.COMM_B + "002"


def brute_force_codes(lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    """Independent answer: test every tiling grid polygon, keep the smallest covering code."""
    grids = fx.grids_frame()
    grids = grids.loc[grids["kind"].isin(list(TILING_KINDS))]
    best: list[str | None] = [None] * len(lon)
    for code, geom in zip(grids["code"], grids.geometry, strict=True):
        covered = shapely.intersects_xy(geom, lon, lat)
        for k in np.flatnonzero(covered):
            if best[k] is None or code < best[k]:
                best[k] = code
    return best


@pytest.mark.parametrize(
    ("ij", "code"),
    [
        ((1, 5), A1), ((6, 5), A2), ((1, 1), A3), ((6, 1), A4),
        ((9, 1), B1), ((15, 5), B2), ((11.9, 3.0), B1), ((12.1, 3.0), B2),
    ],
)
def test_interior_points(index: LookupIndex, ij: tuple[float, float], code: str) -> None:
    lon, lat = fx.xy(*ij)
    result = index.lookup(lon, lat)
    assert result.grid.code == code
    assert result.community is not None and result.community.code == code[:12]
    assert result.street is not None and result.street.name == "黎阳街道"
    assert result.district is not None and result.district.name == "淇滨区"


@pytest.mark.parametrize(
    ("ij", "code", "why"),
    [
        ((4, 4.5), A1, "edge A1|A2"),
        ((2, 3), A1, "edge A1|A3"),
        ((4, 3), A1, "vertex shared by A1, A2, A3, A4"),
        ((6, 3), A2, "edge A2|A4"),
        ((4, 1.5), A3, "edge A3|A4"),
        ((8, 4), A2, "community edge A2|B1"),
        ((8, 1), A4, "community edge A4|B1"),
        ((8, 6), A2, "outer vertex A2|B1"),
        ((12, 6), B1, "zig-zag top vertex"),
        ((12.5, 6 - 1 / 16), B1, "zig-zag inner vertex"),
        ((12.25, 6 - 1 / 32), B1, "zig-zag edge midpoint"),
        ((0, 0), A3, "outer corner"),
    ],
)
def test_shared_edges_go_to_smallest_code(index: LookupIndex, ij: tuple[float, float], code: str, why: str) -> None:
    lon, lat = fx.xy(*ij)
    assert index.lookup(lon, lat).grid.code == code, why
    assert brute_force_codes(np.array([lon]), np.array([lat])) == [code], why


def test_lookup_many_matches_brute_force_on_random_and_edge_points(index: LookupIndex) -> None:
    rng = np.random.default_rng(7)
    i = rng.uniform(-2, 22, 5000)
    j = rng.uniform(-2, 8, 5000)
    # plus every vertex and edge midpoint of every grid (exact on the lattice)
    grids = fx.grids_frame()
    coords = shapely.get_coordinates(grids.geometry.boundary)
    mids = (coords[:-1] + coords[1:]) / 2
    lon = np.concatenate([fx.X0 + i * fx.STEP, coords[:, 0], mids[:, 0]])
    lat = np.concatenate([fx.Y0 + j * fx.STEP, coords[:, 1], mids[:, 1]])
    expected = brute_force_codes(lon, lat)
    assert index.lookup_many(lon, lat).tolist() == expected  # large batch: sorted sweep
    edge = slice(5000, None)
    assert len(lon[edge]) < 512  # small batch: STRtree path, same answers
    assert index.lookup_many(lon[edge], lat[edge]).tolist() == expected[edge]
    assert [index.lookup_many(lon[k : k + 1], lat[k : k + 1])[0] for k in range(0, 5000, 50)] == expected[0:5000:50]
    assert sum(c is None for c in expected) > 500  # the sample really has outside points
    assert len({c for c in expected if c}) == 6


def test_kinds_and_overlays(index: LookupIndex) -> None:
    school = index.lookup(*fx.xy(6, 1))
    assert (school.grid.kind, school.grid.subtype) == ("dedicated", "school")
    assert school.overlays == ()
    lon, lat = fx.xy(1.5, 4.5)  # inside A1, the micro grid, not the police grid
    assert [o.code for o in index.lookup(lon, lat).overlays] == [fx.COMM_A + "801"]
    both = index.lookup(*fx.xy(9, 3))  # B1 and the police grid that crosses into B
    assert both.grid.code == B1
    assert [(o.code, o.kind, o.subtype) for o in both.overlays] == [(fx.COMM_A + "901", "professional", "police")]


def test_workers_leader_and_centre(index: LookupIndex) -> None:
    a2 = index.lookup(*fx.xy(6, 5))
    assert a2.leader is not None and a2.leader.name == "赵敏"
    assert sorted(w.name for w in a2.workers) == ["李娜", "王芳"]
    assert a2.service_centre is not None and a2.service_centre.name == "甲社区党群服务中心"
    a4 = index.lookup(*fx.xy(6, 1))  # w4 serves A4 as an extra grid; the leader leads the whole community
    assert [w.name for w in a4.workers] == ["刘洋"]
    assert a4.leader is not None and a4.leader.role == "grid_leader"
    b1 = index.lookup(*fx.xy(9, 5))
    assert b1.leader is None  # community B has no leader in the data
    assert [w.name for w in b1.workers] == ["陈静"]  # the inactive worker is not shown


def test_worker_fields_are_exactly_the_public_ones(index: LookupIndex) -> None:
    body = index.lookup(*fx.xy(1, 5)).to_dict()
    people = [*body["workers"], body["leader"]]
    assert people
    for person in people:
        assert set(person) == set(PUBLIC_WORKER_FIELDS) == {"name", "role", "phone", "photo", "duties"}
    flat = repr(body)
    assert "dev-secret" not in flat and "w9" not in flat and "worker_id" not in flat


def test_geometry_only_on_request(index: LookupIndex) -> None:
    result = index.lookup(*fx.xy(1, 5))
    assert "geometry" not in result.to_dict()["grid"]
    geom = shapely.geometry.shape(result.to_dict(include_geometry=True)["grid"]["geometry"])
    assert geom.equals(fx.box(0, 3, 4, 6))


def test_outside_names_nearest_grid_and_distance(index: LookupIndex) -> None:
    lon, lat = fx.xy(18, 3)  # community C, which has no grids; nearest grid B2's east edge x = 16
    with pytest.raises(NotFoundError) as err:
        index.lookup(lon, lat)
    details = err.value.details
    assert isinstance(details, dict)
    assert details["nearest_grid"]["code"] == B2
    _, _, geodesic_m = pyproj.Geod(ellps="WGS84").inv(lon, lat, fx.xy(16, 3)[0], lat)
    assert details["distance_m"] == pytest.approx(geodesic_m, abs=1.0)
    assert details["community"]["code"] == fx.COMM_C
    assert B2 in err.value.message and "m away" in err.value.message
    assert err.value.http_status == 404


def test_far_outside_point_south_west(index: LookupIndex) -> None:
    lon, lat = fx.xy(-3, -4)
    with pytest.raises(NotFoundError) as err:
        index.lookup(lon, lat)
    details = err.value.details
    assert isinstance(details, dict)
    assert details["nearest_grid"]["code"] == A3
    _, _, geodesic_m = pyproj.Geod(ellps="WGS84").inv(lon, lat, *fx.xy(0, 0))
    assert details["distance_m"] == pytest.approx(geodesic_m, rel=1e-3)
    assert "community" not in details


def test_service_area_and_swapped_points(index: LookupIndex) -> None:
    lon, lat = fx.xy(18, 3)
    assert index.covers_service_area(lon, lat)  # community C counts as served area
    assert not index.covers_service_area(lat, lon)


def test_lookup_many_input_shapes(index: LookupIndex) -> None:
    assert index.lookup_many([], []).shape == (0,)
    with pytest.raises(ValueError, match="differ in length"):
        index.indices_many([1.0, 2.0], [3.0])


def test_empty_index_raises_not_found() -> None:
    grids = fx.grids_frame().iloc[0:0]
    empty = LookupIndex.from_frames(fx.areas_frame(), grids, fx.workers_frame(), fx.centres_frame())
    assert empty.lookup_many([fx.X0], [fx.Y0]).tolist() == [None]
    with pytest.raises(NotFoundError, match="no active grids"):
        empty.lookup(fx.X0, fx.Y0)


def test_result_for_grid_and_unknown_grid(index: LookupIndex) -> None:
    assert index.result_for_grid(B1).grid.code == B1
    with pytest.raises(NotFoundError, match="999"):
        index.result_for_grid(fx.COMM_A + "999")


def test_concurrent_lookups_match_serial_answers(index: LookupIndex) -> None:
    """The portal's worker threads share one index: answers under concurrency equal the serial ones."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    lon = fx.X0 + rng.uniform(-1, 21, 4000) * fx.STEP
    lat = fx.Y0 + rng.uniform(-1, 7, 4000) * fx.STEP
    serial = index.lookup_many(lon, lat).tolist()

    def one(k: int) -> str | None:
        try:
            return index.lookup(float(lon[k]), float(lat[k])).grid.code
        except NotFoundError:
            return None

    with ThreadPoolExecutor(8) as pool:
        singles = list(pool.map(one, range(len(lon))))
        batches = list(pool.map(lambda s: index.lookup_many(lon[s : s + 1000], lat[s : s + 1000]).tolist(),
                                range(0, 4000, 1000)))
    assert singles == serial
    assert [c for b in batches for c in b] == serial
