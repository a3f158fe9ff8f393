"""Shared fixtures: ``settings``, a throwaway PostGIS (``postgis_url``) and a fresh ``store`` per test.

PostGIS: ``$GRIDMAP_TEST_DATABASE_URL`` when set (the role needs CREATEDB for per-test databases),
else a cluster started for the session in a temp dir (benchmarks/pgcluster.py). When PostGIS
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
from gridmap.store.base import Store, open_store


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
def postgis_template(postgis_server: PostGISServer) -> Iterator[str]:
    """Name of a migrated, empty database that per-test databases are copied from (~50 ms a copy)."""
    name = f"gridmap_template_{uuid.uuid4().hex[:8]}"
    url = postgis_server.create_database(name)
    store = open_store(url, Settings())
    store.close()
    yield name
    postgis_server.drop_database(name)


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def store(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings) -> Iterator[Store]:
    """A fresh, migrated, empty store per test, once per backend."""
    if request.param == "gpkg":
        gpkg = open_store(f"gpkg://{tmp_path / 'store.gpkg'}", settings)
        yield gpkg
        gpkg.close()
        return
    server: PostGISServer = request.getfixturevalue("postgis_server")
    template: str = request.getfixturevalue("postgis_template")
    name = f"gridmap_test_{uuid.uuid4().hex[:12]}"
    pg = open_store(server.create_database(name, template=template), settings)
    try:
        yield pg
    finally:
        pg.close()
        server.drop_database(name)
