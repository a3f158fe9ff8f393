"""Issue 16, store path: what ``partition --commit`` stores is certified as read back, and
``gridmap validate --all`` agrees with an independent shapely check of the stored grids.

The independent side reads the store with geopandas/pyogrio (GeoPackage) or plain psycopg +
WKB (PostGIS), never with gridmap's store code, and judges every community of the full demo.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from click.testing import CliRunner

from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.demo.build import build_demo, partition_every_community
from gridmap.store.factory import open_store
from tests.independent import check_grids

#: The certificate's own noise threshold (m²); the independent check must agree within it.
TOLERANCE_M2 = 1.0


def _independent_gpkg(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    generations = gpd.read_file(path, layer="generations")
    active = set(generations.loc[generations["status"] == "active", "generation_id"].astype(int))
    grids = gpd.read_file(path, layer="grids")
    grids = grids[grids["generation_id"].astype(int).isin(active)]
    areas = gpd.read_file(path, layer="areas")
    buildings = gpd.read_file(path, layer="buildings")
    return grids, areas[areas["level"] == "community"], buildings


def _frame(conn: psycopg.Connection, query: str) -> gpd.GeoDataFrame:
    rows = conn.execute(query).fetchall()
    frame = pd.DataFrame([r[:-1] for r in rows], columns=[d.name for d in conn.execute(query).description][:-1])
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb([bytes(r[-1]) for r in rows]), crs=4326)


def _independent_postgis(url: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    with psycopg.connect(url) as conn:
        grids = _frame(
            conn,
            "SELECT g.code, g.community_code, ST_AsBinary(g.geometry) FROM grids g "
            "JOIN generations n USING (generation_id) WHERE n.status = 'active'",
        )
        areas = _frame(conn, "SELECT code, ST_AsBinary(geometry) FROM areas WHERE level = 'community'")
        buildings = _frame(conn, "SELECT fid, ST_AsBinary(geometry) FROM buildings")
    return grids, areas, buildings


def _validate_all(url: str) -> dict[str, dict]:
    result = CliRunner().invoke(cli, ["validate", "--all", "--store", url, "--json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    return {c["community_code"]: c["certificate"] for c in report["communities"]}


def _check(certificate: dict, name: str) -> dict:
    return next(c for c in certificate["checks"] if c["name"] == name)


def _agree(url: str, grids: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> None:
    certificates = _validate_all(url)
    assert sorted(certificates) == sorted(areas["code"])
    footprints = buildings[shapely.area(np.asarray(buildings.geometry.values)) > 0]
    for code, certificate in certificates.items():
        assert certificate["certified"].endswith("as read back") and url.split("@")[-1] in certificate["certified"]
        own = grids[grids["community_code"] == code]
        boundary = areas.loc[areas["code"] == code].geometry.reset_index(drop=True)
        mine = footprints[footprints.representative_point().within(boundary.iloc[0])]
        verdict = check_grids(own.geometry.reset_index(drop=True), boundary, mine)
        assert certificate["n_grids"] == verdict.grids == len(own)
        covers = _check(certificate, "covers_parent")
        independent_clean = max(verdict.metric_gap_m2, verdict.metric_outside_m2) <= TOLERANCE_M2
        assert covers["ok"] is independent_clean, (code, covers, verdict)
        assert abs(covers["metrics"]["gap_area_m2"] - verdict.metric_gap_m2) <= TOLERANCE_M2, (code, verdict)
        assert abs(covers["metrics"]["outside_area_m2"] - verdict.metric_outside_m2) <= TOLERANCE_M2, (code, verdict)
        assert _check(certificate, "no_overlaps")["ok"] is (verdict.metric_overlap_m2 <= TOLERANCE_M2)
        assert _check(certificate, "buildings_straddling")["ok"] is (verdict.buildings_cut == 0), (code, verdict)
        # the demo's grids are the partition's own: exact coverage (to the overlay's rounding, 1e-13 of
        # a rural community: under a square centimetre) and no cut building, on both sides
        assert max(verdict.native_gap_m2, verdict.native_outside_m2) < 1e-4, (code, verdict)
        assert verdict.boundary_vertices_missing == 0 and verdict.buildings_cut == 0, (code, verdict)


@pytest.mark.slow
def test_validate_all_agrees_with_independent_check_on_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "demo.gpkg"
    url = f"gpkg://{path}"
    store = open_store(url, Settings())
    try:
        build_demo(store, Settings(), partition=partition_every_community)
    finally:
        store.close()
    _agree(url, *_independent_gpkg(path))


@pytest.mark.slow
@pytest.mark.postgis
def test_validate_all_agrees_with_independent_check_on_postgis(postgis_store_url: str) -> None:
    from tests.conftest import _empty_layers

    _empty_layers(postgis_store_url)
    store = open_store(postgis_store_url, Settings())
    try:
        build_demo(store, Settings(), partition=partition_every_community)
    finally:
        store.close()
    _agree(postgis_store_url, *_independent_postgis(postgis_store_url))
