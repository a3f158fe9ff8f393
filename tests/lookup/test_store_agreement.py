"""The in-memory index built from either store, and PostGIS's own SQL answer, agree on every test point."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap.analysis.lookup import LookupIndex
from gridmap.analysis.lookup_sql import (
    PARTS_TABLE,
    lookup_many_sql,
    lookup_sql,
    refresh_if_stale,
    refresh_lookup_parts,
)
from gridmap.errors import NotFoundError, ValidationError
from gridmap.services.generations import activate_generation, stage_generation
from tests.lookup import fixtures as fx


def test_points() -> tuple[np.ndarray, np.ndarray]:
    """Random points over and around the district, every vertex, every edge midpoint, far outside points."""
    rng = np.random.default_rng(2024)
    i, j = rng.uniform(-3, 23, 3000), rng.uniform(-3, 9, 3000)
    coords = shapely.get_coordinates(fx.grids_frame().geometry.boundary)
    mids = (coords[:-1] + coords[1:]) / 2  # exact on the lattice, so exactly on the edges
    far = np.array([[100.0, 20.0], [fx.X0 + 1, fx.Y0], [fx.X0, fx.Y0 - 1]])
    lon = np.concatenate([fx.X0 + i * fx.STEP, coords[:, 0], mids[:, 0], far[:, 0]])
    lat = np.concatenate([fx.Y0 + j * fx.STEP, coords[:, 1], mids[:, 1], far[:, 1]])
    return lon, lat


test_points.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def frames_index() -> LookupIndex:
    return LookupIndex.from_frames(fx.areas_frame(), fx.grids_frame(), fx.workers_frame(), fx.centres_frame())


def test_index_from_either_store_matches_the_frames(store) -> None:  # type: ignore[no-untyped-def]
    fx.fill_store(store, with_addresses=False)
    lon, lat = test_points()
    from_store = LookupIndex.from_store(store)
    assert from_store.lookup_many(lon, lat).tolist() == frames_index().lookup_many(lon, lat).tolist()
    assert len(from_store.generation_key) == 2
    a1 = from_store.lookup(*fx.xy(1, 5))
    assert a1.leader is not None and a1.leader.name == "赵敏"
    assert a1.service_centre is not None and a1.service_centre.phone == "0392-1234561"


def test_index_counts_base_grids_as_the_store_does(store) -> None:  # type: ignore[no-untyped-def]
    """The resident page's "is this a city?" count (in memory) is the other pages' (read from the store)."""
    from gridmap.services.hierarchy_view import base_grid_count

    fx.fill_store(store, with_addresses=False)
    index = LookupIndex.from_store(store)
    # A: 3 base, 1 dedicated, 1 micro (the police grid is professional: not counted); B: 2 base; C: none
    expected = {"": 7, fx.DISTRICT: 7, fx.STREET: 7, fx.COMM_A: 5, fx.COMM_B: 2, fx.COMM_C: 0,
                fx.COMM_A + "001": 1, "999": 0}  # fmt: skip
    assert {code: index.base_grid_count(code) for code in expected} == expected
    assert {code: base_grid_count(store, code) for code in expected} == expected


@pytest.mark.postgis
def test_sql_agrees_with_the_index_on_every_point(postgis_store) -> None:  # type: ignore[no-untyped-def]
    fx.fill_store(postgis_store, with_addresses=False)
    parts = refresh_lookup_parts(postgis_store)
    assert parts > 6  # the zig-zag grids (> 64 vertices) were cut into several pieces
    lon, lat = test_points()
    memory = LookupIndex.from_store(postgis_store).lookup_many(lon, lat)
    in_sql = lookup_many_sql(postgis_store, lon, lat)
    mismatches = [(x, y, a, b) for x, y, a, b in zip(lon, lat, memory, in_sql, strict=True) if a != b]
    assert mismatches == []
    assert sum(c is None for c in memory) > 100 and len({c for c in memory if c}) == 6


@pytest.mark.postgis
def test_sql_single_answer_matches_the_index(postgis_store) -> None:  # type: ignore[no-untyped-def]
    fx.fill_store(postgis_store, with_addresses=False)
    refresh_lookup_parts(postgis_store)
    index = LookupIndex.from_store(postgis_store)
    for ij in [(1, 5), (4, 3), (9, 3), (1.5, 4.5), (12.25, 6 - 1 / 32), (6, 1)]:
        mem = index.lookup(*fx.xy(*ij))
        got = lookup_sql(postgis_store, *fx.xy(*ij))
        assert got["grid"]["code"] == mem.grid.code, ij
        assert got["grid"]["kind"] == mem.grid.kind
        assert [o["code"] for o in got["overlays"]] == [o.code for o in mem.overlays], ij
        assert got["community"]["name"] == mem.community.name  # type: ignore[union-attr]
        assert got["street"]["name"] == "黎阳街道" and got["district"]["name"] == "淇滨区"
    for ij in [(18, 3), (-3, -4), (30, 10)]:
        with pytest.raises(NotFoundError) as mem_err:
            index.lookup(*fx.xy(*ij))
        with pytest.raises(NotFoundError) as sql_err:
            lookup_sql(postgis_store, *fx.xy(*ij))
        m, s = mem_err.value.details, sql_err.value.details
        assert isinstance(m, dict) and isinstance(s, dict)
        assert s["nearest_grid"] == m["nearest_grid"]
        assert s["distance_m"] == pytest.approx(m["distance_m"], abs=1.5)  # geodesic vs Gauss-Krüger metres


@pytest.mark.postgis
def test_side_table_is_refreshed_when_a_generation_is_activated(postgis_store) -> None:  # type: ignore[no-untyped-def]
    fx.fill_store(postgis_store, with_addresses=False)
    assert refresh_if_stale(postgis_store) is True  # first use: built
    assert refresh_if_stale(postgis_store) is False  # nothing changed
    pt = fx.xy(6, 5)
    assert lookup_many_sql(postgis_store, [pt[0]], [pt[1]]).tolist() == [fx.COMM_A + "002"]
    import geopandas as gpd

    merged = gpd.GeoDataFrame(
        {"code": [fx.COMM_A + "001"], "name": ["甲社区第一网格"], "kind": ["base"], "community_code": [fx.COMM_A]},
        geometry=[fx.box(0, 0, 8, 6)],
        crs=4326,
    )
    with postgis_store.transaction() as tx:
        gen = stage_generation(tx, fx.COMM_A, merged)
    activate_generation(postgis_store, gen, actor="test")
    assert refresh_if_stale(postgis_store) is True
    assert lookup_many_sql(postgis_store, [pt[0]], [pt[1]]).tolist() == [fx.COMM_A + "001"]
    from psycopg import sql

    rows = postgis_store.query(sql.SQL("SELECT count(DISTINCT code) FROM {}").format(sql.Identifier(PARTS_TABLE)))
    assert rows[0][0] == 3  # A's new single grid + B's two; A's old grids and overlays were retired with it


def test_sql_lookup_refuses_a_geopackage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gridmap.config import Settings
    from gridmap.store.gpkg import GeoPackageStore

    store = GeoPackageStore(f"gpkg://{tmp_path}/x.gpkg", Settings())
    with pytest.raises(ValidationError, match="PostGIS"):
        lookup_many_sql(store, [1.0], [2.0])


@pytest.mark.postgis
def test_service_keeps_the_sql_side_table_fresh(postgis_store) -> None:  # type: ignore[no-untyped-def]
    from gridmap.config import Settings
    from gridmap.services.lookup import LookupService

    fx.fill_store(postgis_store, with_addresses=False)
    service = LookupService(postgis_store, Settings(), key_check_interval_s=0.0)
    pt = fx.xy(9, 1)
    assert service.lookup_point(*pt).grid.code == fx.COMM_B + "001"
    assert refresh_if_stale(postgis_store) is False  # the service built the side table with the index
    assert lookup_many_sql(postgis_store, [pt[0]], [pt[1]]).tolist() == [fx.COMM_B + "001"]


@pytest.mark.postgis
def test_cli_sql_answer_equals_the_memory_answer(postgis_store, lookup_pg_url) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from gridmap.cli.main import cli

    fx.fill_store(postgis_store, with_addresses=False)
    lon, lat = fx.xy(9, 3)
    memory = json.loads(CliRunner().invoke(cli, ["lookup", str(lon), str(lat), "--store", lookup_pg_url]).stdout)
    result = CliRunner().invoke(cli, ["lookup", str(lon), str(lat), "--store", lookup_pg_url, "--sql"])
    assert result.exit_code == 0, result.output
    in_sql = json.loads(result.stdout)
    assert in_sql["grid"]["code"] == memory["grid"]["code"] == fx.COMM_B + "001"
    assert [o["code"] for o in in_sql["overlays"]] == [o["code"] for o in memory["overlays"]] == [fx.COMM_A + "901"]


def test_cli_sql_on_a_geopackage_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from gridmap.cli.main import cli

    result = CliRunner().invoke(cli, ["lookup", "114.3", "35.75", "--sql", "--store", f"gpkg://{tmp_path}/x.gpkg"])
    assert result.exit_code == 2
    assert "PostGIS" in json.loads(result.stdout)["error"]["message"]
