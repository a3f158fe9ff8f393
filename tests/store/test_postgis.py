"""PostGISStore specifics: unreachable servers, password hygiene, concurrent use, SRID, versions."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.schema import AREAS, BUILDINGS, LAYERS
from gridmap.store.factory import open_store
from gridmap.store.postgis import CHECK_IDLE_AFTER_S, INTERNAL_TABLES, PostGISStore, _IdleConnectionCheck, redact_url
from tests.store.samples import sample_frame, sample_geoframe

if TYPE_CHECKING:
    from tests.conftest import PostGISServer

pytestmark = pytest.mark.postgis


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("postgresql://grid:s3cr%40t@db.example:5433/gridmap") == \
        "postgresql://grid:***@db.example:5433/gridmap"
    assert redact_url("postgresql://grid@db/gridmap") == "postgresql://grid@db/gridmap"


def test_unreachable_server_is_503_naming_host_and_port_but_not_the_password() -> None:
    port = _closed_port()
    store = open_store(f"postgresql://grid:TopSecret99@127.0.0.1:{port}/gridmap", Settings(), migrate=False)
    assert "TopSecret99" not in store.url and "TopSecret99" not in repr(store)
    with pytest.raises(StoreUnavailableError) as caught:
        store.migrate()
    err = caught.value
    assert err.http_status == 503 and f"127.0.0.1:{port}" in err.message and "gridmap" in err.message
    assert "TopSecret99" not in err.message and "TopSecret99" not in str(err.to_dict())
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
        store.read(AREAS)


def test_missing_database_is_503(postgis_server: PostGISServer) -> None:
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        open_store(postgis_server.url_of(f"nope_{uuid.uuid4().hex[:6]}"), Settings())


@pytest.fixture
def fresh_db(postgis_server: PostGISServer) -> Iterator[str]:
    name = f"gridmap_fresh_{uuid.uuid4().hex[:10]}"
    url = postgis_server.create_database(name)
    yield url
    postgis_server.drop_database(name)


def test_concurrent_migrations_serialise(fresh_db: str) -> None:
    stores = [PostGISStore(fresh_db, Settings()) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            versions = list(pool.map(lambda s: s.migrate(), stores))
        assert len(set(versions)) == 1 and versions[0] == stores[0].schema_version()
        with psycopg.connect(fresh_db) as conn:
            applied = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        assert [v for (v,) in applied] == list(range(1, versions[0] + 1))
    finally:
        for store in stores:
            store.close()


def test_one_store_serves_many_threads(store_pg: PostGISStore) -> None:
    frames = [sample_frame(LAYERS[BUILDINGS], 50, seed=i) for i in range(8)]

    def work(i: int) -> int:
        with store_pg.transaction() as tx:
            fids = tx.insert(BUILDINGS, frames[i])
        return len(store_pg.read(BUILDINGS, where={"fid": fids}))

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, range(8))) == [50] * 8
    assert store_pg.count(BUILDINGS) == 400


@pytest.fixture
def store_pg(fresh_db: str) -> Iterator[PostGISStore]:
    store = open_store(fresh_db, Settings())
    assert isinstance(store, PostGISStore)
    yield store
    store.close()


def test_cgcs2000_storage_and_mismatch(fresh_db: str) -> None:
    store = open_store(fresh_db, Settings(storage_epsg=4490))
    try:
        with store.transaction() as tx:
            tx.insert(AREAS, sample_geoframe(LAYERS[AREAS], 3).set_crs(4490, allow_override=True))
        assert store.read(AREAS).crs.to_epsg() == 4490
        with psycopg.connect(fresh_db) as conn:
            srids = {r[0] for r in conn.execute("SELECT DISTINCT ST_SRID(geometry) FROM areas")}
        assert srids == {4490}
    finally:
        store.close()
    def pool_threads() -> int:
        return sum(t.name.startswith("gridmap-") for t in threading.enumerate())

    before = pool_threads()
    with pytest.raises(ValidationError, match=r"EPSG:4490 but settings\.storage_epsg is 4326"):
        open_store(fresh_db, Settings())
    assert pool_threads() == before  # the refused store closed its pool (no worker threads left behind)


def test_a_newer_schema_is_refused(store_pg: PostGISStore) -> None:
    with psycopg.connect(store_pg._conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    with pytest.raises(StoreUnavailableError, match="newer than this gridmap"):
        store_pg.migrate()


def test_internal_tables_come_from_the_migrations(store_pg: PostGISStore) -> None:
    """The lookup side tables exist right after migrate (no code creates tables at run time)."""
    with psycopg.connect(store_pg._conninfo) as conn:
        found = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name = ANY(%s)", [list(INTERNAL_TABLES)])}
        gist = conn.execute(
            "SELECT 1 FROM pg_indexes WHERE tablename = 'lookup_grid_parts' AND indexdef ILIKE '%%gist (geom)%%'"
        ).fetchone()
    assert found == set(INTERNAL_TABLES) and gist is not None


def test_a_connection_idle_past_the_window_is_tested_and_a_dead_one_replaced(store_pg: PostGISStore) -> None:
    """The pool lends a just-returned connection untested; after the window a killed backend is noticed."""
    (pid,) = store_pg.query(sql.SQL("SELECT pg_backend_pid()"))[0]
    other = psycopg.connect(store_pg._conninfo, autocommit=True)
    try:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    time.sleep(CHECK_IDLE_AFTER_S + 0.2)
    assert store_pg.count(schema.AUDIT_LOG) == 0  # the dead connection was tested, discarded and replaced
    (new_pid,) = store_pg.query(sql.SQL("SELECT pg_backend_pid()"))[0]
    assert new_pid != pid


def test_the_idle_check_skips_only_recently_returned_connections() -> None:
    now = [100.0]
    check = _IdleConnectionCheck(window_s=0.5, clock=lambda: now[0])
    tested: list[object] = []

    class FakeConnection:
        autocommit = True

        def execute(self, query: str) -> None:
            tested.append(self)

    conn = FakeConnection()
    check.check(conn)  # type: ignore[arg-type]  # never returned yet: tested
    check.reset(conn)  # type: ignore[arg-type]
    now[0] += 0.4
    check.check(conn)  # type: ignore[arg-type]  # within the window: not tested
    now[0] += 0.2
    check.check(conn)  # type: ignore[arg-type]  # idle 0.6 s: tested
    assert tested == [conn, conn]
