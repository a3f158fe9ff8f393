"""Fixtures of the portal tests; the data lives in portal_sample.py (shared with tests/browser)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from portal_sample import areas_frame, grids_frame


@pytest.fixture
def areas_gdf() -> gpd.GeoDataFrame:
    return areas_frame()


@pytest.fixture
def grids_gdf() -> gpd.GeoDataFrame:
    return grids_frame()
