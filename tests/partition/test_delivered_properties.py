"""Issue 16, property tests: over random towns, every output format certifies as written.

Each example draws a community (a rectangle, a rectangle with a hole, or two rectangles as one
MultiPolygon), straight roads across it at random, buildings scattered at random (some centred
on a road, so the road runs through them), households per building at random, and a boundary
CRS (lon/lat as stored, or CGCS2000 Gauss-Krüger metres as a survey office delivers). It
partitions in memory, writes the grids to GeoJSON, GeoPackage, Shapefile and CSV through
``write_certified_grids`` (which re-reads and certifies the file), and then judges each written
file with ``tests/independent.py``, which trusts nothing of gridmap.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, box

from gridmap.config import Settings
from gridmap.errors import InfeasiblePartitionError
from gridmap.partition.certificate.report import (
    BUILDINGS_ASSIGNED,
    BUILDINGS_STRADDLING,
    COVERAGE_VALID,
    COVERS_PARENT,
    GEOMETRY_VALID,
    HOUSEHOLDS_IN_BAND,
    NO_OVERLAPS,
)
from gridmap.partition.engine import partition_community
from gridmap.partition.problem import Band
from gridmap.services.delivery import write_certified_grids
from tests.independent import check_file

METRIC = 4547  # CGCS2000 / 3-degree Gauss-Krüger CM 114E, around Hebi
X0, Y0, W, H = 500_000.0, 3_950_000.0, 900.0, 700.0
CODE, NAME = "410611001002", "黎阳社区"
COVERAGE = (GEOMETRY_VALID, COVERAGE_VALID, NO_OVERLAPS, COVERS_PARENT, BUILDINGS_ASSIGNED, BUILDINGS_STRADDLING)
SUFFIXES = (".geojson", ".gpkg", ".shp", ".csv")


def outline(kind: str) -> shapely.Geometry:
    base = box(X0, Y0, X0 + W, Y0 + H)
    if kind == "hole":  # a park or a barracks the community does not govern
        return base.difference(box(X0 + 350, Y0 + 250, X0 + 520, Y0 + 420))
    if kind == "multipart":  # either side of a river
        return MultiPolygon([box(X0, Y0, X0 + 420, Y0 + H), box(X0 + 520, Y0, X0 + W, Y0 + H)])
    return base


def road(side_a: int, s: float, side_b: int, t: float) -> LineString:
    def at(side: int, f: float) -> tuple[float, float]:
        return [(X0 + f * W, Y0 - 10), (X0 + W + 10, Y0 + f * H), (X0 + f * W, Y0 + H + 10), (X0 - 10, Y0 + f * H)][
            side
        ]

    return LineString([at(side_a, s), at(side_b, t)])


towns = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["plain", "hole", "multipart"]),
        "roads": st.lists(
            st.tuples(st.integers(0, 3), st.floats(0.15, 0.85), st.integers(0, 3), st.floats(0.15, 0.85)),
            min_size=2,
            max_size=6,
        ),
        "buildings": st.lists(
            st.tuples(st.floats(0.03, 0.97), st.floats(0.03, 0.97), st.integers(5, 60)), min_size=20, max_size=60
        ),
        "on_road": st.integers(0, 3),
        "crs": st.sampled_from([4326, METRIC]),
    }
)


def build(town: dict) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    area = outline(town["kind"])
    lines = [road(*r) for r in town["roads"] if r[0] != r[2]]
    assume(len(lines) >= 1)
    footprints: list[shapely.Geometry] = []
    households: list[int] = []
    for fx, fy, hh in town["buildings"]:
        fp = box(X0 + fx * W - 9, Y0 + fy * H - 6, X0 + fx * W + 9, Y0 + fy * H + 6)
        if area.contains(fp) and not any(fp.intersects(f) for f in footprints):
            footprints.append(fp)
            households.append(hh)
    for line in lines[: town["on_road"]]:  # a building the road runs through (an underpass, a data error)
        mid = line.interpolate(0.5, normalized=True)
        fp = box(mid.x - 8, mid.y - 8, mid.x + 8, mid.y + 8)
        if area.contains(fp) and not any(fp.intersects(f) for f in footprints):
            footprints.append(fp)
            households.append(40)
    assume(len(footprints) >= 8)
    boundary = gpd.GeoDataFrame({"code": [CODE], "name": [NAME]}, geometry=[area], crs=METRIC).to_crs(town["crs"])
    roads = gpd.GeoDataFrame({"road_class": ["local"] * len(lines)}, geometry=lines, crs=METRIC).to_crs(4326)
    buildings = gpd.GeoDataFrame(
        {"building_id": [f"b{i}" for i in range(len(footprints))], "households": households},
        geometry=footprints,
        crs=METRIC,
    ).to_crs(4326)
    return boundary, roads, buildings


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(town=towns)
@example(
    town={
        "kind": "hole",
        "roads": [(0, 0.3, 2, 0.7), (3, 0.5, 1, 0.45)],
        "crs": METRIC,
        "on_road": 2,
        "buildings": [(0.1 + 0.08 * i, 0.1 + 0.075 * (i % 11), 30) for i in range(11)] * 2,
    }
)
@example(
    town={
        "kind": "multipart",
        "roads": [(0, 0.2, 2, 0.25), (3, 0.5, 1, 0.5), (0, 0.8, 2, 0.75)],
        "crs": 4326,
        "on_road": 3,
        "buildings": [(0.05 + 0.09 * i, 0.1 + 0.08 * (i % 10), 25) for i in range(11)] * 2,
    }
)
def test_every_format_certifies_as_written(town: dict, tmp_path_factory: pytest.TempPathFactory) -> None:
    boundary, roads, buildings = build(town)
    through = min(town["on_road"], len(town["roads"]))
    event(f"community {town['kind']}, boundary EPSG:{town['crs']}, {through} road(s) through buildings")
    total = int(buildings["households"].sum())
    band = Band(max(1, total // 4), max(2, total // 2), max(1, total // 3))
    try:
        result = partition_community(
            boundary, roads, buildings, community_code=CODE, community_name=NAME, band=band, settings=Settings()
        )
    except InfeasiblePartitionError:
        assume(False)
        return
    folder = tmp_path_factory.mktemp("delivered")
    for suffix in SUFFIXES:
        out = folder / f"grids{suffix}"
        delivered = write_certified_grids(result, out, boundary)
        cert = delivered.certificate
        assert cert.certified == f"{out.name} as written"
        for name in COVERAGE:
            assert cert.check(name).ok, (suffix, town, cert.check(name).to_dict())
        assert cert.check(HOUSEHOLDS_IN_BAND).ok == result.certificate.check(HOUSEHOLDS_IN_BAND).ok
        reference = boundary.geometry
        if suffix == ".csv" and town["crs"] == METRIC:  # lon/lat CSV: the GK edges' real course, not chords
            reference = reference.segmentize(2.0)
        verdict = check_file(out, reference, buildings)
        assert verdict.grids == len(result.grids)
        assert max(verdict.native_gap_m2, verdict.native_outside_m2, verdict.native_overlap_m2) < 1e-3, (
            suffix,
            verdict,
        )
        assert max(verdict.metric_gap_m2, verdict.metric_outside_m2) < 0.05, (suffix, verdict)
        assert verdict.buildings_cut == 0, (suffix, town, verdict)
        if suffix != ".csv" or town["crs"] == 4326:  # CSV is always lon/lat: a GK boundary's vertices are not there
            assert verdict.boundary_vertices_missing == 0, (suffix, town, verdict)
        written = sorted(p.name for p in Path(folder).iterdir() if p.stem == "grids" and p.suffix == suffix)
        assert written == [out.name]
    leftovers = [p.name for p in Path(folder).iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the staging folder is gone
    assert np.isclose(result.grids["households"].sum(), total)
