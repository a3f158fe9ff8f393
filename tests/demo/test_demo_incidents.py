"""Incidents cluster in space (hotspots, emerging ones) and time (season, week, day), are located
to their areas, and come from a window fixed by the seed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.demo.generate import DemoDistrict
from gridmap.demo.incident_profiles import CATEGORIES, CLOSED, OPEN_STATUSES
from gridmap.demo.incidents import incidents_for
from gridmap.demo.params import DemoParams
from tests.demo.helpers import strip_grids

CST = timezone(timedelta(hours=8))


def _incidents(district: DemoDistrict, *, seed: int = 2, grids: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    p = district.params
    return incidents_for(district.areas, district.buildings, district.units, district.estates, grids,
                         rng=np.random.default_rng(seed), working_crs=district.working_crs,
                         end=p.incidents_end, months=p.months)


@pytest.fixture(scope="module")
def year(full_district: DemoDistrict) -> gpd.GeoDataFrame:
    return _incidents(full_district)


def _local(frame: gpd.GeoDataFrame, column: str = "reported_at") -> pd.Series:
    return frame[column].dt.tz_convert("Asia/Shanghai")


def test_window_volume_and_categories(full_district: DemoDistrict, year: gpd.GeoDataFrame) -> None:
    households = int(full_district.buildings["households"].sum())
    assert len(year) == round(households * 0.45)
    assert 25_000 <= len(year) <= 40_000
    assert DemoParams(seed=2024).incidents_end == datetime(2025, 1, 1, tzinfo=CST)  # not "today"
    local = _local(year)
    assert local.min() >= pd.Timestamp("2024-01-01", tz="Asia/Shanghai")
    assert local.max() < pd.Timestamp("2025-01-01", tz="Asia/Shanghai")
    assert set(year["category"]) == {c.name for c in CATEGORIES}
    assert year["incident_id"].is_unique and year["reported_at"].is_monotonic_increasing


def test_statuses_and_times_are_consistent(year: gpd.GeoDataFrame) -> None:
    closed = year["status"] == CLOSED
    assert closed.mean() > 0.9 and (~closed).sum() > 0  # mostly closed, some open
    assert set(year.loc[~closed, "status"]) <= set(OPEN_STATUSES)
    assert year.loc[closed, "closed_at"].notna().all() and year.loc[~closed, "closed_at"].isna().all()
    assert (year.loc[closed, "closed_at"] >= year.loc[closed, "reported_at"]).all()
    assert (year["updated_at"] >= year["reported_at"]).all()
    end = pd.Timestamp("2025-01-01", tz="Asia/Shanghai")
    assert (year.loc[closed, "closed_at"] < end).all()
    # open cases are recent: their median age is days, not months
    assert (end - year.loc[~closed, "reported_at"]).median() < pd.Timedelta(days=30)


def test_located_to_community_and_street(full_district: DemoDistrict, year: gpd.GeoDataFrame) -> None:
    communities = full_district.areas[full_district.areas["level"] == "community"].set_index("code")
    assert year["community_code"].notna().all() and year["grid_code"].isna().all()
    assert (year["street_code"] == year["community_code"].str[:9]).all()
    polygons = communities.geometry.reindex(year["community_code"]).to_numpy()
    assert shapely.covers(polygons, year.geometry.to_numpy()).all()


def test_located_to_grids_when_given(small_district: DemoDistrict) -> None:
    grids = strip_grids(small_district)
    located = _incidents(small_district, grids=grids)
    assert located["grid_code"].notna().mean() > 0.99  # only points on a grid edge stay unassigned
    ok = located["grid_code"].notna()
    assert (located.loc[ok, "grid_code"].str[:12] == located.loc[ok, "community_code"]).all()


def test_hotspots_are_denser_than_population(full_district: DemoDistrict, year: gpd.GeoDataFrame) -> None:
    """The densest 10% of H3 cells hold far more than 10% of incidents, and more than their share of households."""
    def cells(frame: gpd.GeoDataFrame) -> pd.Series:
        pts = frame.geometry.representative_point()
        return pd.Series([h3.latlng_to_cell(y, x, 9) for x, y in zip(pts.x, pts.y, strict=True)], index=frame.index)

    per_cell = cells(year).value_counts()
    top = per_cell.index[: max(1, len(per_cell) // 10)]
    share = per_cell.loc[top].sum() / len(year)
    assert share > 0.35  # uniform over occupied cells would be 0.10
    b = full_district.buildings
    households = b["households"].groupby(cells(b)).sum()
    household_share = households.reindex(top).fillna(0).sum() / households.sum()
    assert share > 1.2 * household_share  # concentrated beyond where people live


def test_markets_and_schools_attract_incidents(full_district: DemoDistrict, year: gpd.GeoDataFrame) -> None:
    crs = full_district.working_crs
    units = full_district.units.to_crs(crs)
    anchors = units[units["unit_type"].isin(["market", "school"])].geometry.centroid.buffer(150).union_all()
    near_incidents = year.to_crs(crs).geometry.within(anchors).mean()
    b = full_district.buildings.to_crs(crs)
    near_households = b.loc[b.geometry.centroid.within(anchors), "households"].sum() / b["households"].sum()
    assert near_incidents > 1.5 * near_households


def test_seasons_week_and_day(year: gpd.GeoDataFrame) -> None:
    local = _local(year)
    month = local.dt.month

    def season_ratio(category: str, high: list[int], low: list[int]) -> float:
        cat = year["category"] == category
        return (cat & month.isin(high)).sum() / max(1, (cat & month.isin(low)).sum())

    assert season_ratio("环境卫生", [6, 7, 8], [12, 1, 2]) > 1.6  # summer sanitation
    assert season_ratio("消防", [12, 1, 2], [6, 7, 8]) > 1.6  # heating-season fire hazards
    weekday = local.dt.day_of_week < 5
    assert weekday.sum() / 5 > 1.25 * (~weekday).sum() / 2  # fewer reports per day at weekends
    hour = local.dt.hour
    assert (hour == 10).sum() > 5 * (hour == 3).sum()


def test_emerging_hotspots_grow(year: gpd.GeoDataFrame) -> None:
    local = _local(year)
    pts = year.geometry
    cell = pd.Series([h3.latlng_to_cell(y, x, 9) for x, y in zip(pts.x, pts.y, strict=True)], index=year.index)
    first = cell[local.dt.month <= 3].value_counts()
    last = cell[local.dt.month >= 10].value_counts()
    growth = (last / first.reindex(last.index).fillna(0).clip(lower=1)).where(last >= 40).dropna()
    assert (growth >= 3).sum() >= 2  # a few cells where reports at least tripled
    assert 0.7 < len(cell[local.dt.month >= 10]) / len(cell[local.dt.month <= 3]) < 1.6  # not the whole district


def test_same_seed_same_incidents(small_district: DemoDistrict) -> None:
    a, b = _incidents(small_district, seed=9), _incidents(small_district, seed=9)
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert (shapely.to_wkb(a.geometry.values) == shapely.to_wkb(b.geometry.values)).all()
    assert not a["category"].equals(_incidents(small_district, seed=10)["category"])
