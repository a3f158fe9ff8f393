"""The synthetic city (issue 14 item 1), small: three districts at scale 0.05, on both stores.

Checks what makes a city more than copies: every district has its own code and place (outlines
do not overlap), every row's code and id lies in its own district and is unique city-wide, all
of it is labelled synthetic, and the grids partition every community of every district.
"""

from __future__ import annotations

import itertools

import pytest

from gridmap import schema
from gridmap.config import Settings
from gridmap.demo.city import CityParams, build_city
from gridmap.errors import ConflictError, ValidationError
from gridmap.services.generations import active_grids
from gridmap.store.base import Store


def test_three_district_city(store: Store, settings: Settings) -> None:
    params = CityParams(districts=3, scale=0.05, months=1)
    summary = build_city(store, settings, params)
    areas = store.read(schema.AREAS)
    districts = areas[areas["level"] == "district"].sort_values("code")
    assert districts["code"].tolist() == ["410651", "410652", "410653"] and districts["synthetic"].all()
    for a, b in itertools.combinations(districts.geometry, 2):
        assert a.intersection(b).area == 0  # side by side on the lattice, never on top of each other
    assert areas["synthetic"].all() and not areas["code"].str.startswith("410611").any()
    for _, row in areas[areas["level"] != "district"].iterrows():
        assert row["code"].startswith(row["parent_code"])
        parent = areas[areas["code"] == row["code"][:6]].geometry.iloc[0]
        assert parent.buffer(1e-6).contains(row.geometry)  # each community lies in its own district
    communities = areas[areas["level"] == "community"]
    assert summary.communities == len(communities) and summary.households == int(districts["households"].sum())
    buildings = store.read(schema.BUILDINGS)
    assert len(buildings) == summary.buildings and buildings["building_id"].is_unique
    assert set(buildings["community_code"]) <= set(communities["code"])
    assert store.read(schema.ROADS)["road_id"].is_unique
    grids = active_grids(store)
    assert set(grids["community_code"]) == set(communities["code"]) and grids["synthetic"].all()
    for code, community in zip(communities["code"], communities.geometry, strict=True):
        union = grids[grids["community_code"] == code].union_all()
        assert abs(union.area - community.area) < 1e-9 * max(community.area, 1)  # no gap, nothing outside
    workers = store.read(schema.WORKERS)
    assert workers["device_id"].dropna().is_unique and len(workers) == summary.workers
    incidents = store.read(schema.INCIDENTS)
    assert incidents["incident_id"].is_unique and len(incidents) == summary.incidents > 0
    assert set(incidents["community_code"].str[:6]) == set(districts["code"])
    with pytest.raises(ConflictError, match="empty store"):
        build_city(store, settings, params)


def test_city_params_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"outside 1\.\.49"):
        CityParams(districts=50)
    with pytest.raises(ValidationError, match="scale"):
        CityParams(scale=3.0)
    assert CityParams().code(0) == "410651" and CityParams().offset(6) == (0.0, -0.30)


def test_demo_city_command(tmp_path, settings: Settings) -> None:
    """``gridmap demo --city``: the printed numbers are the store's, and a second run refuses to mix cities."""
    from click.testing import CliRunner

    from gridmap.cli.main import cli
    from gridmap.store import open_store

    url = f"gpkg://{tmp_path / 'city.gpkg'}"
    args = ["demo", "--city", "--districts", "2", "--scale", "0.05", "--store", url, "--no-serve"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "synthetic city of 2 districts" in result.output
    store = open_store(url, settings)
    try:
        communities = store.count(schema.AREAS, where={"level": "community"})
        grids = len(active_grids(store))
        assert f"communities{communities:>17,}" in result.output
        assert communities > 0 and grids >= communities
        assert f"{grids:,}" in result.output.split("grids", 1)[1].split("\n", 1)[0]
        codes = set(store.read(schema.AREAS, where={"level": "district"})["code"])
        assert codes == {"410651", "410652"}
    finally:
        store.close()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code != 0 and "already holds data" in again.output
