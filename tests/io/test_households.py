"""Household estimates: the documented formula, floors parsing, non-residential types, points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from gridmap.config import Settings
from gridmap.io.households import (
    DEFAULT_POINT_FOOTPRINT_M2,
    estimate_households,
    floors_from_levels,
    footprints_m2,
    households_from_floor_area,
    is_residential,
)

# CGCS2000 / 3-degree Gauss-Kruger CM 114E: a metric CRS chosen here independently of gridmap.crs.
_TO_LONLAT = pyproj.Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
_HEBI_E, _HEBI_N = 526_000.0, 3_957_000.0  # about 114.29E 35.75N in EPSG:4547


def rectangle(width_m: float, height_m: float, *, dx_m: float = 0.0) -> shapely.Polygon:
    """A width × height metre rectangle near Hebi, in lon/lat."""
    x0, y0 = _HEBI_E + dx_m, _HEBI_N
    metric = shapely.box(x0, y0, x0 + width_m, y0 + height_m)
    return shapely.transform(metric, lambda xy: np.column_stack(_TO_LONLAT.transform(xy[:, 0], xy[:, 1])))


def test_floors_from_levels() -> None:
    got = floors_from_levels(["6", 5, "2.5", "3;4", None, "", "0", "地上5层", float("nan")])
    assert got.tolist() == [6, 5, 3, 4, pd.NA, pd.NA, pd.NA, 5, pd.NA]


def test_formula_with_settings() -> None:
    settings = Settings()
    # 1000 m² × 6 floors × 0.75 / 90 m² = 50 households
    got = households_from_floor_area(
        np.array([1000.0, 1000.0, 20.0]), np.array([6.0, 6.0, 1.0]), np.array([True, False, True]), settings
    )
    assert got.tolist() == [50, 0, 1]  # non-residential 0; a tiny house is still 1 household
    custom = settings.replace(dwelling_area_m2=60.0, residential_floor_ratio=0.9)
    assert households_from_floor_area(np.array([400.0]), np.array([5.0]), np.array([True]), custom).tolist() == [30]


def test_footprint_area_is_metric() -> None:
    geoms = np.array([rectangle(30, 20), shapely.Point(114.29, 35.75)], dtype=object)
    area = footprints_m2(geoms)
    assert area[0] == pytest.approx(600.0, rel=1e-3)  # GK scale error near the CM is tiny
    assert np.isnan(area[1])


def test_residential_types() -> None:
    types = ["residential", "yes", None, "industrial", "Commercial", "school", "garages", "工业", "amenity:pub", "住宅"]
    assert is_residential(types).tolist() == [True, True, True, False, False, False, False, False, False, True]


def test_estimate_mixed_buildings() -> None:
    settings = Settings()
    geoms = np.array(
        [rectangle(30, 20), rectangle(30, 20, dx_m=100), rectangle(50, 40, dx_m=200), shapely.Point(114.29, 35.75)],
        dtype=object,
    )
    result = estimate_households(
        geoms,
        settings=settings,
        given=pd.Series(pd.array([None, 12, None, None], dtype="Int64")),
        levels=pd.Series(["6", None, None, None]),
        building_types=pd.Series(["apartments", None, "industrial", None]),
    )
    assert result.households.tolist() == [round(600 * 6 * 0.75 / 90), 12, 0, round(400 * 3 * 0.75 / 90)]
    assert result.estimated.tolist() == [True, False, True, True]
    assert result.floors.tolist() == [6, pd.NA, pd.NA, pd.NA]
    assert result.footprint_m2[0] == pytest.approx(600, rel=1e-3) and np.isnan(result.footprint_m2[3])
    assert len(result.warnings) == 1 and "1 point building(s) had no households" in result.warnings[0]
    assert f"{DEFAULT_POINT_FOOTPRINT_M2:g} m²" in result.warnings[0]


def test_point_default_follows_settings_extra() -> None:
    settings = Settings(extra={"point_footprint_m2": 900.0}, default_floors=6)
    result = estimate_households(np.array([shapely.Point(114.29, 35.75)], dtype=object), settings=settings)
    assert result.households.tolist() == [round(900 * 6 * 0.75 / 90)]
