"""Geometry and coordinate checks: every bad feature is named, repairs only with fix=True."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap.io.checks import check_coordinates, check_geometries, explode_lines, to_multipolygons
from gridmap.io.readers import GeometryIssue

BOWTIE = shapely.Polygon([(114.0, 35.0), (114.01, 35.01), (114.01, 35.0), (114.0, 35.01), (114.0, 35.0)])
SQUARE = shapely.box(114.0, 35.0, 114.01, 35.01)


def _labels(n: int) -> list[str]:
    return [f"feature {i + 1} (code C{i + 1})" for i in range(n)]


def test_all_bad_features_reported_with_rule_and_location() -> None:
    geoms = np.array(
        [SQUARE, BOWTIE, None, shapely.LineString([(114, 35), (114.1, 35)]), shapely.Polygon(), BOWTIE], dtype=object
    )
    result = check_geometries(geoms, _labels(6), geometry_type="MULTIPOLYGON", layer="streets")
    got = [(p.row, p.rule) for p in result.problems]
    assert got == [
        (1, "invalid_geometry"),
        (2, "empty_geometry"),
        (3, "wrong_geometry_type"),
        (4, "empty_geometry"),
        (5, "invalid_geometry"),
    ]
    bow = result.problems[0]
    assert bow.location == pytest.approx((114.005, 35.005))
    assert "feature 2 (code C2)" in bow.message and "Self-intersection" in bow.message and "--fix" in bow.message
    assert "is a LineString but the streets layer needs polygons" in result.problems[2].message
    assert result.repairs == []
    assert result.geometries[1] is BOWTIE  # nothing changed without fix


def test_fix_repairs_invalid_and_unclosed_but_not_empty() -> None:
    unclosed = GeometryIssue("ring is not closed (its last point differs from its first)", SQUARE)
    geoms = np.array([None, BOWTIE, None], dtype=object)
    result = check_geometries(
        geoms, _labels(3), geometry_type="MULTIPOLYGON", layer="communities", issues={0: unclosed}, fix=True
    )
    assert [(p.row, p.rule) for p in result.problems] == [(2, "empty_geometry")]
    assert [r.row for r in result.repairs] == [0, 1]
    assert "not closed" in result.repairs[0].problem and "Self-intersection" in result.repairs[1].problem
    fixed = result.geometries[1]
    assert fixed.is_valid and fixed.geom_type in {"Polygon", "MultiPolygon"}
    assert fixed.area == pytest.approx(BOWTIE.buffer(0).area * 2, rel=1e-9)  # both triangles kept
    assert result.geometries[0].equals(SQUARE)


def test_unclosed_without_fix_is_a_problem() -> None:
    issue = GeometryIssue("ring is not closed (its last point differs from its first)", SQUARE)
    result = check_geometries(
        np.array([None], dtype=object), _labels(1), geometry_type="MULTIPOLYGON", layer="x", issues={0: issue}
    )
    assert [(p.rule, p.row) for p in result.problems] == [("unreadable_geometry", 0)]
    assert "feature 1 (code C1): ring is not closed" in result.problems[0].message


def test_buildings_accept_points_and_polygons_only() -> None:
    geoms = np.array([SQUARE, shapely.Point(114, 35), shapely.LineString([(0, 0), (1, 1)])], dtype=object)
    result = check_geometries(geoms, _labels(3), geometry_type="GEOMETRY", layer="buildings")
    assert [(p.row, p.rule) for p in result.problems] == [(2, "wrong_geometry_type")]
    assert "polygons or points" in result.problems[0].message


def test_swapped_lat_beyond_90_and_swapped_into_china() -> None:
    geoms = np.array(
        [
            shapely.Point(114.29, 35.75),  # Hebi, fine
            shapely.Point(35.75, 114.29),  # swapped: "latitude" 114 > 90
            shapely.Point(24.94, 60.17),  # Helsinki, fine (not in China either way)
            shapely.box(40.0, 80.0, 40.1, 80.1),  # lon 40 lat 80 is the Arctic; swapped it is Xinjiang
        ],
        dtype=object,
    )
    problems = check_coordinates(geoms, _labels(4), claims_degrees=True, crs_label="EPSG:4326")
    assert [(p.row, p.rule) for p in problems] == [(1, "swapped_lon_lat"), (3, "swapped_lon_lat")]
    assert "feature 2 (code C2): longitude and latitude look swapped" in problems[0].message


def test_metres_in_degrees_and_degrees_in_metres() -> None:
    metres = np.array(
        [shapely.Point(114.29, 35.75), shapely.box(500000, 3950000, 500100, 3950100), shapely.Point(114.29, 95.0)],
        dtype=object,
    )
    problems = check_coordinates(metres, _labels(3), claims_degrees=True, crs_label="EPSG:4326")
    assert [(p.row, p.rule) for p in problems] == [(1, "metres_not_degrees"), (2, "coordinates_out_of_range")]
    assert "look like metres (x=500050.0, y=3950050.0) but the file claims EPSG:4326" in problems[0].message
    degrees = np.array([shapely.Point(114.29, 35.75), shapely.Point(38500000, 3950000)], dtype=object)
    problems = check_coordinates(degrees, _labels(2), claims_degrees=False, crs_label="EPSG:4547")
    assert [(p.row, p.rule) for p in problems] == [(0, "degrees_not_metres")]
    assert "claims EPSG:4547 (metres)" in problems[0].message


def test_explode_and_multipolygon_helpers() -> None:
    multi = shapely.MultiLineString([[(0, 0), (1, 0)], [(2, 0), (3, 0)]])
    parts, rows = explode_lines(np.array([shapely.LineString([(0, 1), (1, 1)]), multi], dtype=object))
    assert list(rows) == [0, 1, 1] and [p.geom_type for p in parts] == ["LineString"] * 3
    out = to_multipolygons(np.array([SQUARE, shapely.MultiPolygon([SQUARE])], dtype=object))
    assert [g.geom_type for g in out] == ["MultiPolygon", "MultiPolygon"] and out[0].equals(SQUARE)


def test_fix_drops_collapsed_polygons_and_lists_them() -> None:
    collapsed = shapely.Polygon([(114.0, 35.0), (114.01, 35.0), (114.0, 35.0), (114.0, 35.0)])  # 2 distinct points
    geoms = np.array([SQUARE, collapsed], dtype=object)
    kept = check_geometries(geoms, _labels(2), geometry_type="GEOMETRY", layer="buildings")
    assert [(p.row, p.rule) for p in kept.problems] == [(1, "invalid_geometry")] and kept.dropped == []
    fixed = check_geometries(geoms, _labels(2), geometry_type="GEOMETRY", layer="buildings", fix=True)
    assert fixed.problems == [] and fixed.dropped == [1] and fixed.geometries[1] is None
    assert [(r.row, r.action.split(":")[0]) for r in fixed.repairs] == [(1, "dropped")]
