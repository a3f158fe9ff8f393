"""Store mode on both stores: scope by area code, excluded incidents, totals equal the store's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap import schema
from gridmap.analysis.hotspots import HotspotOptions
from gridmap.errors import NotFoundError, ValidationError
from gridmap.services.analysis import (
    coverage_from_store,
    emerging_from_store,
    hotspots_from_store,
    incidents_in_scope,
    stats_from_store,
)
from tests.analysis import store_sample as ss


@pytest.fixture
def district(store):
    ss.populate(store)
    return store


def test_incidents_in_scope_skip_rejected_and_duplicates_and_follow_the_area(district):
    all_counted = incidents_in_scope(district)
    assert len(all_counted) == ss.COUNTED_INCIDENTS
    assert not {"EV_REJECTED", "EV_DUPLICATE"} & set(all_counted["incident_id"])
    c2 = incidents_in_scope(district, area_code=ss.C2)
    assert len(c2) == ss.OTHER_INCIDENTS * 3 and set(c2["community_code"]) == {ss.C2}
    window = incidents_in_scope(district, start="2024-03-01", end="2024-04-01", categories=["消防"])
    assert set(window["reported_at"].dt.month) == {3} and set(window["category"]) == {"消防"}


def test_incidents_without_weight_weigh_one(district):
    with district.transaction() as tx:
        tx.update(schema.INCIDENTS, {"incident_id": "EV000002"}, {"weight": None})
    frame = incidents_in_scope(district).set_index("incident_id")
    assert frame.loc["EV000002", "weight"] == 1.0 and frame.loc["EV000003", "weight"] == 1.0
    assert frame.loc["EV000004", "weight"] == 2.0


def test_hotspots_on_grids_find_the_planted_grid(district):
    result = hotspots_from_store(district, cells="grids", options=HotspotOptions(permutations=0, fdr=False))
    frame = result.frame.set_index("cell_id")
    assert frame.loc[ss.HOT_GRID, "incidents"] == ss.HOT_INCIDENTS
    assert frame["incidents"].sum() == ss.COUNTED_INCIDENTS
    # only 7 grids: the 2 x 2 grids of C1 all neighbour the hot grid, so they share its high neighbourhood sum
    assert frame.loc[ss.HOT_GRID, "z"] == frame["z"].max()
    assert set(frame.index[frame["z"] > 0]) == {g[0] for g in ss.GRID_CELLS if g[1] == ss.C1}
    scoped = hotspots_from_store(district, cells="grids", area_code=ss.C1, options=HotspotOptions(permutations=99))
    assert set(scoped.frame["cell_id"]) == {g[0] for g in ss.GRID_CELLS if g[1] == ss.C1}
    rates = hotspots_from_store(district, cells="square:300",
                                options=HotspotOptions(permutations=99, per_households=True))
    hh = rates.frame["households"].to_numpy()
    assert np.nansum(hh) == sum(ss.HOUSEHOLDS)  # buildings summed into the squares


def test_unknown_area_and_bad_codes(district):
    with pytest.raises(ValidationError, match="digits"):
        hotspots_from_store(district, cells="grids", area_code="41061x")
    assert incidents_in_scope(district, area_code="410611009").empty  # no such street: nothing in it
    with pytest.raises(NotFoundError, match="410611001001099"):  # an H3 study area needs the grid's outline
        hotspots_from_store(district, cells="h3:10", area_code="410611001001099")


def test_stats_totals_equal_store_totals(district, settings):
    buildings = district.read(schema.BUILDINGS)
    for level in ("district", "street", "community", "grid"):
        stats = stats_from_store(district, settings, level=level)
        totals = stats.totals()
        assert totals["households"] + stats.outside["households"] == buildings["households"].sum()
        assert totals["persons"] + stats.outside["persons"] == buildings["population"].sum()
        assert totals["buildings"] + stats.outside["buildings"] == len(buildings)
        assert totals["incidents"] == ss.COUNTED_INCIDENTS
        assert totals["category:消防"] + totals["category:环境卫生"] == ss.COUNTED_INCIDENTS
    scoped = stats_from_store(district, settings, level="grid", area_code=ss.C2)
    grid = scoped.table()
    assert sorted(grid["code"]) == [g[0] for g in ss.GRID_CELLS if g[1] == ss.C2]
    assert scoped.totals()["households"] == sum(ss.HOUSEHOLDS[4:])
    assert scoped.outside["buildings"] == 0  # C1's buildings in the bounding box are not C2's business


def test_coverage_report(district):
    report = coverage_from_store(district, distance_m=700.0, method="network")
    missing = set(report.grids_without_worker["code"])
    assert missing == {g[0] for g in ss.GRID_CELLS[2:]}
    street = report.streets.iloc[0]
    assert street["workers"] == 2 and street["households_per_worker"] == pytest.approx(150.0)
    uncovered = report.uncovered.set_index("code")
    assert uncovered.loc[ss.C2, "uncovered_m2"] == pytest.approx(ss.UNCOVERED_M2, rel=1e-4)
    assert uncovered.loc[ss.C1, "uncovered_m2"] == pytest.approx(0.0, abs=1.0)
    # along the road from the centre at (10, 10): buildings (centres 25 m inside each grid's south-west corner)
    # of grids 1-5 are within 700 m (e.g. grid 4: 14 + 300 + 326 m); grids 6 (949 m) and 7 (940 m) are not
    assert report.access["share_within"] == pytest.approx(1500 / 2800)
    straight = coverage_from_store(district, distance_m=700.0, method="line")
    assert straight.access["share_within"] == pytest.approx(2200 / 2800)  # grid 7's building is 691 m away
    assert report.key_units.iloc[0]["grid_code"] == ss.GRID_CELLS[4][0]
    body = report.to_dict()
    assert body["uncovered"][1]["code"] == ss.C2 and isinstance(body["access"]["households"], float)


def test_emerging_from_store(district):
    result = emerging_from_store(district, cells="grids", period="month")
    assert len(result.periods) == 12 and result.z.shape == (len(ss.GRID_CELLS), 12)
    assert isinstance(result.frame, pd.DataFrame) and "category" in result.frame
