from __future__ import annotations

import pytest

from gridmap.analysis.lookup import LookupIndex
from tests.lookup import fixtures as fx


@pytest.fixture(scope="module")
def index() -> LookupIndex:
    return LookupIndex.from_frames(
        fx.areas_frame(), fx.grids_frame(), fx.workers_frame(), fx.centres_frame(), generation_key=((1, 2), (2, 2))
    )


@pytest.fixture(scope="module")
def lookup_pg_url(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A migrated PostGIS database for this module's tests (dropped at the end)."""
    import uuid

    from gridmap.config import Settings
    from gridmap.store.factory import open_store

    server = request.getfixturevalue("postgis_server")
    name = f"gridmap_lookup_{uuid.uuid4().hex[:8]}"
    url = server.create_database(name)
    open_store(url, Settings()).close()
    yield url
    server.drop_database(name)


@pytest.fixture
def postgis_store(lookup_pg_url: str, settings):  # type: ignore[no-untyped-def]
    """An empty migrated PostGIS store per test: every layer and the lookup side tables are emptied."""
    import psycopg
    from psycopg import sql

    from gridmap.analysis.lookup_sql import PARTS_TABLE, STATE_TABLE
    from gridmap.schema import LAYERS
    from gridmap.store.factory import open_store

    with psycopg.connect(lookup_pg_url) as conn:
        for table in (*LAYERS, PARTS_TABLE, STATE_TABLE):
            if conn.execute("SELECT to_regclass(%s)", [table]).fetchone()[0] is not None:  # type: ignore[index]
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    pg = open_store(lookup_pg_url, settings)
    try:
        yield pg
    finally:
        pg.close()
