"""Shared fixtures: ``settings``, a throwaway PostGIS (``postgis_url``) and a fresh ``store`` per test.

PostGIS: ``$GRIDMAP_TEST_DATABASE_URL`` when set (the role needs CREATEDB: the session creates its
own databases there and drops them at the end), else a cluster started for the session in a temp
dir (benchmarks/pgcluster.py). The PostGIS ``store`` is one migrated database per session,
emptied (rows deleted, fid sequences reset) before each test. When PostGIS
cannot be started the PostGIS tests are skipped with the reason, except with ``CI=true``,
where they fail: CI must never skip a PostGIS test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from benchmarks.pgcluster import ClusterUnavailable, start_cluster
from gridmap.config import Settings
from gridmap.schema import FID, LAYERS
from gridmap.store.base import Store
from gridmap.store.factory import open_store


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


class PostGISServer:
    """A server on which tests may create and drop databases (through ``admin_url``)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def _execute(self, query: sql.Composed) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(query)

    def url_of(self, dbname: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{dbname}"))

    def create_database(self, name: str, *, template: str | None = None) -> str:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(query, sql.Identifier(template))
        self._execute(query)
        return self.url_of(name)

    def drop_database(self, name: str) -> None:
        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def settings() -> Settings:
    """Settings with defaults (no file, no environment)."""
    return Settings()


@pytest.fixture(scope="session")
def postgis_server() -> Iterator[PostGISServer]:
    external = os.environ.get("GRIDMAP_TEST_DATABASE_URL")
    if external:
        yield PostGISServer(external)
        return
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        if _in_ci():
            pytest.fail(f"PostGIS is required when CI=true but could not be started: {exc}")
        pytest.skip(f"PostGIS not available ({exc})")
    try:
        yield PostGISServer(cluster.url())
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgis_url(postgis_server: PostGISServer) -> Iterator[str]:
    """A database for the session (PostGIS may be created in it; not migrated)."""
    external = os.environ.get("GRIDMAP_TEST_DATABASE_URL")
    if external:
        yield external
        return
    name = f"gridmap_session_{uuid.uuid4().hex[:8]}"
    url = postgis_server.create_database(name)
    yield url
    postgis_server.drop_database(name)


@pytest.fixture(scope="session")
def postgis_store_url(postgis_server: PostGISServer) -> Iterator[str]:
    """A migrated database for this session (each xdist worker has its own) that ``store`` empties per test.

    Emptying (DELETE + identity reset, ~20 ms) is much cheaper than a database copy per test
    (CREATE DATABASE ... TEMPLATE checkpoints: 0.1-0.6 s on a busy machine).
    """
    name = f"gridmap_store_{uuid.uuid4().hex[:8]}"
    url = postgis_server.create_database(name)
    open_store(url, Settings()).close()
    yield url
    postgis_server.drop_database(name)


def _empty_layers(url: str) -> None:
    """Delete every row of every layer and restart the fid sequences at 1, in one transaction."""
    with psycopg.connect(url) as conn:
        for layer in LAYERS:
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(layer)))
        conn.execute("SELECT setval(pg_get_serial_sequence(t, %s), 1, false) FROM unnest(%s::text[]) AS t",
                     [FID, list(LAYERS)])


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def store(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings) -> Iterator[Store]:
    """A fresh, migrated, empty store per test, once per backend."""
    if request.param == "gpkg":
        gpkg = open_store(f"gpkg://{tmp_path / 'store.gpkg'}", settings)
        yield gpkg
        gpkg.close()
        return
    url: str = request.getfixturevalue("postgis_store_url")
    pg = open_store(url, settings)
    _empty_layers(url)
    yield pg
    pg.close()
