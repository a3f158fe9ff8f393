"""Fixtures of the portal tests; the data lives in portal_sample.py (shared with tests/browser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from portal_sample import areas_frame, grids_frame, populate_store

from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.base import Store
from gridmap.store.factory import open_store


@pytest.fixture
def areas_gdf() -> gpd.GeoDataFrame:
    return areas_frame()


@pytest.fixture
def grids_gdf() -> gpd.GeoDataFrame:
    return grids_frame()


@pytest.fixture
def portal_settings(tmp_path: Path) -> Settings:
    return Settings(store_url=f"gpkg://{tmp_path / 'portal.gpkg'}", secret_key="portal-tests")


@pytest.fixture
def sample_store(portal_settings: Settings) -> Iterator[Store]:
    store = open_store(portal_settings.store_url, portal_settings)
    populate_store(store)
    yield store
    store.close()


@pytest.fixture
def app(portal_settings: Settings, sample_store: Store) -> Iterator[Flask]:
    app = create_app(portal_settings, store=sample_store)
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
