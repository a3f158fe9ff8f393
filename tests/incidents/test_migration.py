"""Migration 0004 (and any later) upgrades a store that already holds incidents: rows, fids, indexes survive."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely

from gridmap import schema
from gridmap.config import Settings
from gridmap.services.incidents import IncidentService
from gridmap.store import gpkg_schema, postgis
from gridmap.store.base import Store
from gridmap.store.factory import open_store
from gridmap.store.gpkg_binary import gpkg_blobs_from_geometries, register_sql_functions
from gridmap.store.migrations import latest_version, migrations_for
from tests.incidents import sample
from tests.store.introspect import expected_schema, physical_schema

OLD = {
    "incident_id": "EV000007", "category": "环境卫生", "status": "assigned", "reported_at": "2024-05-01T02:00:00.000Z",
    "grid_code": sample.GRID_A1, "community_code": sample.COMM_A, "street_code": sample.STREET, "level": "grid",
    "reporter": "12345热线",
}
POINT = shapely.Point(sample.INSIDE[sample.GRID_A1])


def _upto_three(monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
    monkeypatch.setattr(module, "migrations_for", lambda backend: migrations_for(backend)[:3])


def _check_upgraded(store: Store, insert_old: Callable[[], None]) -> None:
    insert_old()
    latest = latest_version("gpkg" if store.url.startswith("gpkg") else "postgis")
    assert store.migrate() == latest >= 4 and store.schema_version() == latest
    assert physical_schema(store) == expected_schema(store)
    rows = store.read(schema.INCIDENTS)
    assert rows["fid"].tolist() == [7] and rows["incident_id"].tolist() == ["EV000007"]
    assert rows["reporter"].iloc[0] == "12345热线" and rows["geometry"].iloc[0].equals(POINT)
    assert rows["version"].isna().all() and rows["token"].isna().all()
    x, y = POINT.x, POINT.y
    assert len(store.read(schema.INCIDENTS, bbox=(x - 1e-4, y - 1e-4, x + 1e-4, y + 1e-4))) == 1  # index rebuilt
    sample.populate(store)
    svc = IncidentService(store, Settings(allow_anonymous_reports=True))
    from gridmap.auth.principal import PUBLIC

    new = svc.report(PUBLIC, {"service_code": "fire", "lat": y, "long": x})
    assert store.read(schema.INCIDENTS)["fid"].tolist() == [7, 8]
    assert [d.incident_id for d in new.duplicates] == []  # different category; the old row is still readable


def test_gpkg_upgrade_keeps_incidents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    url = f"gpkg://{tmp_path / 'old.gpkg'}"
    _upto_three(monkeypatch, gpkg_schema)
    store = open_store(url, settings)
    assert store.schema_version() == 3
    monkeypatch.undo()

    def insert_old() -> None:
        blob = gpkg_blobs_from_geometries([POINT], srs_id=4326)[0]
        conn = sqlite3.connect(tmp_path / "old.gpkg")
        register_sql_functions(conn)  # the R-tree triggers call ST_IsEmpty / ST_MinX...
        with conn:
            conn.execute(f"INSERT INTO incidents (fid, {', '.join(OLD)}, geometry) "
                         f"VALUES (7, {', '.join('?' * len(OLD))}, ?)", [*OLD.values(), blob])
        conn.close()

    try:
        _check_upgraded(store, insert_old)
    finally:
        store.close()


@pytest.mark.postgis
def test_postgis_upgrade_keeps_incidents(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                                         settings: Settings) -> None:
    server = request.getfixturevalue("postgis_server")
    name = f"gridmap_mig_{uuid.uuid4().hex[:10]}"
    url = server.create_database(name)
    _upto_three(monkeypatch, postgis)
    store = open_store(url, settings)
    assert store.schema_version() == 3
    monkeypatch.undo()

    def insert_old() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"INSERT INTO incidents (fid, {', '.join(OLD)}, geometry) VALUES "
                         f"(7, {', '.join(['%s'] * len(OLD))}, ST_GeomFromText(%s, 4326))", [*OLD.values(), POINT.wkt])

    try:
        _check_upgraded(store, insert_old)
    finally:
        store.close()
        server.drop_database(name)
