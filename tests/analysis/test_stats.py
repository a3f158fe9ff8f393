"""Per-area statistics on hand-made areas: counts per area, breakdowns, totals + outside = input totals."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.analysis.stats import (
    area_statistics,
    building_counts,
    statistics_csv,
    summary_of,
    units_for_level,
)
from gridmap.config import Settings
from gridmap.errors import ValidationError
from tests.analysis import sample

STREET = "410611001"
C1, C2 = STREET + "001", STREET + "002"


def areas() -> gpd.GeoDataFrame:
    """District and street = 600 x 300 m; community 1 = west half, community 2 = east half."""
    geoms = [sample.square_m(0, 0, 300.0, width=2), sample.square_m(0, 0, 300.0, width=2),
             sample.square_m(0, 0, 300.0), sample.square_m(1, 0, 300.0)]
    return gpd.GeoDataFrame(
        {"code": ["410611", STREET, C1, C2], "name": ["淇滨区", "福平路街道", "一社区", "二社区"],
         "level": ["district", "street", "community", "community"]},
        geometry=sample.lonlat(geoms), crs=4326,
    )


def buildings() -> gpd.GeoDataFrame:
    # three in community 1, one in community 2, one outside every area (east of x = 600 m)
    geoms = [sample.square_m(x, 1, 50.0) for x in (0.5, 2, 4)] + [sample.square_m(8, 1, 50.0),
                                                                   sample.square_m(20, 1, 50.0)]
    return gpd.GeoDataFrame(
        {"building_id": [f"B{i}" for i in range(5)], "households": [10, 20, None, 40, 5],
         "population": [30, None, 12, 100, 9], "footprint_m2": [2500.0, None, 2500.0, 100.0, None],
         "floors": [2, 6, 3, None, 1]},
        geometry=sample.lonlat(geoms), crs=4326,
    )


def incidents() -> gpd.GeoDataFrame:
    pts = [shapely.Point(sample.X0 + x, sample.Y0 + 50) for x in (10, 20, 320, 330, 340, 900)]
    frame = sample.incidents_frame(sample.lonlat(pts), category=["消防", "环境卫生", "消防", "消防", "治安", "消防"],
                                   status=["closed", "reported", "closed", "assigned", "closed", "closed"])
    frame.loc[len(frame)] = {"incident_id": "EV_NOWHERE", "category": "消防", "status": "closed", "geometry": None}
    return frame


def test_building_counts_estimate_dwellings_and_persons():
    settings = Settings()
    counts = building_counts(buildings(), settings)
    # B0: 2500 m² x 2 floors x 0.75 / 90 m² = 41.7 -> 42 dwellings (> 10 households); B1: no footprint -> 20
    assert list(counts["dwellings"]) == [42, 20, 62, 40, 5]
    assert list(counts["households"]) == [10, 20, 0, 40, 5]
    assert list(counts["persons"]) == [30, round(20 * settings.persons_per_household), 12, 100, 9]


def test_counts_per_community_and_totals_match_the_inputs():
    settings = Settings()
    units = units_for_level("community", areas=areas())
    stats = area_statistics(units, buildings=buildings(), incidents=incidents(), settings=settings)
    table = stats.table().set_index("code")
    assert list(table.index) == [C1, C2]
    assert list(table["buildings"]) == [3, 1]
    assert list(table["households"]) == [30, 40]
    assert list(table["incidents"]) == [2, 3]
    assert table.loc[C2, "category:消防"] == 2 and table.loc[C2, "category:治安"] == 1
    assert table.loc[C1, "status:reported"] == 1 and table.loc[C2, "status:assigned"] == 1
    expected = building_counts(buildings(), settings)
    totals = stats.totals()
    for column in ("households", "dwellings", "persons"):
        assert totals[column] + stats.outside[column] == pytest.approx(expected[column].sum())
    assert totals["buildings"] + stats.outside["buildings"] == 5
    assert totals["incidents"] + stats.outside["incidents"] + stats.outside["incidents_without_location"] == 7
    csv = statistics_csv(stats)
    assert csv.splitlines()[0].startswith("code,name,level,buildings,dwellings,households,persons,incidents")
    assert summary_of(stats)["areas"] == 2


def test_every_level_sums_to_the_same_totals():
    settings = Settings()
    grids = sample.lattice_grids(2, 300.0).iloc[[0, 1]]  # two 300 m grids side by side = the street
    estates = gpd.GeoDataFrame({"estate_id": ["E1"], "name": ["锦隆苑"]},
                               geometry=sample.lonlat([sample.square_m(0, 0, 150.0)]), crs=4326)
    sums = {}
    for level in ("district", "street", "community", "grid"):
        units = units_for_level(level, areas=areas(), grids=grids, estates=estates)
        sums[level] = area_statistics(units, buildings=buildings(), incidents=incidents(), settings=settings).totals()
    assert sums["district"] == sums["street"] == sums["community"] == sums["grid"]
    estate = area_statistics(units_for_level("estate", areas=areas(), estates=estates), buildings=buildings(),
                             incidents=incidents(), settings=settings)
    assert estate.table()["buildings"].tolist() == [2]  # B0 (25-75 m) and B1 (100-150 m) lie in the 150 m estate


def test_unknown_level_is_refused():
    with pytest.raises(ValidationError, match="unknown statistics level"):
        units_for_level("building", areas=areas())


def test_fixed_breakdown_columns_line_up_across_areas():
    units = units_for_level("community", areas=areas())
    stats = area_statistics(units, buildings=buildings().iloc[0:0], incidents=incidents(), settings=Settings(),
                            categories=["消防", "公共设施"], statuses=["closed"])
    cols = [c for c in stats.table().columns if ":" in c]
    assert cols == ["category:消防", "category:公共设施", "status:closed"]
    assert stats.table()["category:公共设施"].tolist() == [0, 0]
    assert np.all(stats.table()["buildings"] == 0)
    assert isinstance(stats.table(), pd.DataFrame)
