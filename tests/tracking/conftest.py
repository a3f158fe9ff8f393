"""Fixtures of the tracking tests: the small world of world.py in a fresh store (both backends)."""

from __future__ import annotations

import pytest

from gridmap.store.base import Store
from tests.tracking import world


@pytest.fixture
def world_store(store: Store) -> Store:
    """``store`` (GeoPackage and PostGIS) holding the tracked world with its workers."""
    world.populate_store(store)
    return store
