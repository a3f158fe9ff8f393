"""The coverage certificate: every failure type is detected, with the right numbers."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gridmap.errors import ValidationError
from gridmap.partition.certificate.checks import check_partition, validate_community
from gridmap.partition.certificate.report import (
    BUILDINGS_ASSIGNED,
    BUILDINGS_STRADDLING,
    CONTIGUOUS,
    COVERAGE_VALID,
    COVERS_PARENT,
    GEOMETRY_VALID,
    HOUSEHOLDS_IN_BAND,
    HOUSEHOLDS_MATCH_BUILDINGS,
    NO_OVERLAPS,
    WITHIN_ONE_COMMUNITY,
)
from gridmap.partition.problem import Band

GK = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E: metres, so areas are exact
X0, Y0 = 500_000.0, 3_800_000.0
BAND = Band(300, 500, 400)


def rect(x1, y1, x2, y2):
    return box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


PARENT = rect(0, 0, 300, 200)


def grids_frame(geoms, households=None, **columns):
    data = {"code": [f"41061100100200{i + 1}" for i in range(len(geoms))], **columns}
    if households is not None:
        data["households"] = households
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=GK)


def buildings_frame(points, households):
    return gpd.GeoDataFrame(
        {"building_id": [f"b{i}" for i in range(len(points))], "households": households},
        geometry=[Point(X0 + x, Y0 + y) for x, y in points],
        crs=GK,
    )


def three_columns():
    return [rect(0, 0, 100, 200), rect(100, 0, 200, 200), rect(200, 0, 300, 200)]


BUILDINGS = buildings_frame([(50, 100), (150, 60), (150, 140), (250, 100)], [350, 200, 200, 450])


def test_a_clean_partition_passes_every_check():
    cert = check_partition(grids_frame(three_columns(), [350, 400, 450]), PARENT, buildings=BUILDINGS, band=BAND)
    assert cert.ok, cert.summary()
    assert cert.n_grids == 3 and cert.communities == ("parent",) and cert.working_crs == GK
    assert [c.name for c in cert.checks] == [
        GEOMETRY_VALID, COVERAGE_VALID, NO_OVERLAPS, COVERS_PARENT, CONTIGUOUS, WITHIN_ONE_COMMUNITY,
        BUILDINGS_ASSIGNED, HOUSEHOLDS_IN_BAND, HOUSEHOLDS_MATCH_BUILDINGS, BUILDINGS_STRADDLING,
    ]  # fmt: skip
    assert not any(c.skipped for c in cert.checks)
    assert cert.check(COVERS_PARENT).metrics == {
        "gap_area_m2": 0.0, "outside_area_m2": 0.0, "parent_area_m2": 60000.0,
        "native_gap_area_m2": 0.0, "native_outside_area_m2": 0.0,
    }  # fmt: skip
    assert cert.check(HOUSEHOLDS_MATCH_BUILDINGS).metrics["buildings_total"] == 1200.0
    round_trip = json.loads(json.dumps(cert.to_dict()))
    assert round_trip["ok"] is True and len(round_trip["checks"]) == 10
    assert cert.summary()[0].startswith("PASS: 3 grids in 1 community")


def test_gap_of_known_area_at_the_boundary():
    geoms = three_columns()
    geoms[2] = rect(200, 0, 290, 200)  # a 10 m x 200 m strip is left uncovered
    cert = check_partition(grids_frame(geoms), PARENT)
    covers = cert.check(COVERS_PARENT)
    assert not covers.ok and not cert.ok
    assert covers.metrics["gap_area_m2"] == pytest.approx(2000.0)
    assert [(i["kind"], i["area_m2"]) for i in covers.issues] == [("gap", 2000.0)]
    gap = covers.issues[0]["geometry"]
    assert gap["type"] == "Polygon" and 113.9 < gap["coordinates"][0][0][0] < 114.1  # GeoJSON in lon/lat
    assert cert.check(COVERAGE_VALID).ok  # a gap at the edge is not a coverage error: only the union check sees it
    assert cert.check(HOUSEHOLDS_IN_BAND).skipped


def test_overlap_of_known_area():
    geoms = three_columns()
    geoms[1] = rect(100, 0, 220, 200)  # overlaps the third column by 20 m x 200 m
    cert = check_partition(grids_frame(geoms), PARENT)
    overlaps = cert.check(NO_OVERLAPS)
    assert not overlaps.ok
    assert overlaps.metrics["overlap_area_m2"] == pytest.approx(4000.0)
    assert [(i["grids"], i["area_m2"]) for i in overlaps.issues] == [
        (["410611001002002", "410611001002003"], 4000.0)
    ]
    coverage = cert.check(COVERAGE_VALID)
    assert not coverage.ok
    assert {i["grid"] for i in coverage.issues} == {"410611001002002", "410611001002003"}
    assert all(i["geometry"]["type"] in ("LineString", "MultiLineString") for i in coverage.issues)
    assert cert.check(COVERS_PARENT).ok  # the union is still exactly the parent


def test_hole_inside_a_valid_coverage_is_caught_by_the_union_check():
    geoms = three_columns()
    hole = rect(140, 90, 160, 110)  # 20 m x 20 m
    geoms[1] = Polygon(geoms[1].exterior.coords, [hole.exterior.coords])
    cert = check_partition(grids_frame(geoms), PARENT)
    assert cert.check(COVERAGE_VALID).ok  # GEOS: a valid coverage may have holes...
    assert cert.check(NO_OVERLAPS).ok
    covers = cert.check(COVERS_PARENT)
    assert not covers.ok  # ...but the union differs from the parent
    assert [(i["kind"], i["area_m2"]) for i in covers.issues] == [("hole", 400.0)]
    assert covers.metrics["gap_area_m2"] == pytest.approx(400.0)


def test_building_in_two_grids_and_building_in_none():
    geoms = three_columns()
    geoms[1] = rect(100, 0, 220, 200)
    geoms[2] = rect(200, 0, 290, 200)
    buildings = buildings_frame([(50, 100), (210, 100), (295, 100), (150, 100)], [100, 100, 100, 100])
    check = check_partition(grids_frame(geoms), PARENT, buildings=buildings).check(BUILDINGS_ASSIGNED)
    assert not check.ok
    assert check.metrics == {"buildings": 4, "unassigned": 1, "multiple": 1}
    by_building = {i["building"]: i for i in check.issues}
    assert by_building["b1"]["grids"] == ["410611001002002", "410611001002003"]
    assert by_building["b2"]["grids"] == [] and by_building["b2"]["problem"] == "in no grid"
    assert by_building["b2"]["lonlat"][0] == pytest.approx(114.0, abs=0.1)


def test_disconnected_grid_fails_unless_flagged():
    a = MultiPolygon([rect(0, 0, 100, 200), rect(200, 0, 300, 200)])
    geoms = [a, rect(100, 0, 200, 200)]
    check = check_partition(grids_frame(geoms), PARENT).check(CONTIGUOUS)
    assert not check.ok
    assert check.issues == ({"grid": "410611001002001", "parts": 2, "part_areas_m2": [20000.0, 20000.0]},)
    flagged = grids_frame(geoms, flags=[json.dumps([{"code": "disconnected_part", "message": "river"}]), "[]"])
    check = check_partition(flagged, PARENT).check(CONTIGUOUS)
    assert check.ok and check.metrics["accepted_multipart"] == 1


def test_households_out_of_band_with_reasons_and_dedicated_grids_exempt():
    grids = grids_frame(three_columns(), [250, 400, 900], kind=["base", "base", "dedicated"])
    check = check_partition(grids, PARENT, band=BAND).check(HOUSEHOLDS_IN_BAND)
    assert not check.ok
    assert check.issues == ({"grid": "410611001002001", "households": 250.0, "reason": "below the minimum 300 by 50"},)
    assert check.metrics["exempt"] == 1 and check.metrics["checked"] == 2
    over = check_partition(grids_frame(three_columns(), [350, 520, 400]), PARENT, band=BAND).check(HOUSEHOLDS_IN_BAND)
    assert over.issues[0]["reason"] == "above the maximum 500 by 20"


def test_households_from_buildings_when_grids_have_none_and_mismatch_detected():
    from_buildings = check_partition(grids_frame(three_columns()), PARENT, buildings=BUILDINGS, band=BAND)
    assert from_buildings.check(HOUSEHOLDS_IN_BAND).ok  # 350, 400, 450 counted from the buildings
    assert from_buildings.check(HOUSEHOLDS_MATCH_BUILDINGS).skipped
    wrong = check_partition(grids_frame(three_columns(), [350, 420, 450]), PARENT, buildings=BUILDINGS)
    check = wrong.check(HOUSEHOLDS_MATCH_BUILDINGS)
    assert check.issues == ({"grid": "410611001002002", "households": 420.0, "buildings_households": 400.0},)


def test_grid_crossing_communities_and_matching_by_code():
    communities = gpd.GeoDataFrame(
        {"code": ["410611001001", "410611001002"]}, geometry=[rect(0, 0, 150, 200), rect(150, 0, 300, 200)], crs=GK
    )
    geoms = [rect(0, 0, 150, 200), rect(150, 0, 300, 200)]
    ok = check_partition(grids_frame(geoms, community_code=["410611001001", "410611001002"]), communities)
    assert ok.ok and ok.communities == ("410611001001", "410611001002")
    crossing = [rect(0, 0, 100, 200), rect(100, 0, 300, 200)]
    cert = check_partition(grids_frame(crossing), communities)
    nesting = cert.check(WITHIN_ONE_COMMUNITY)
    assert nesting.issues == (
        {"grid": "410611001002002", "problem": "crosses a community boundary",
         "communities": {"410611001001": 10000.0, "410611001002": 30000.0}},
    )  # fmt: skip
    # Matched by overlap, the crossing grid belongs to 410611001002; community 410611001001 then has a gap.
    gaps = {(i["community"], i["area_m2"]) for i in cert.check(COVERS_PARENT).issues if i["kind"] == "gap"}
    assert gaps == {("410611001001", 10000.0)}


def test_lon_lat_input_is_measured_in_metres():
    geoms = three_columns()
    geoms[2] = rect(200, 0, 290, 200)
    grids = grids_frame(geoms).to_crs(4326)
    parent = gpd.GeoDataFrame(geometry=[PARENT], crs=GK).to_crs(4326)
    cert = check_partition(grids, parent)
    assert cert.working_crs == GK  # working CRS picked for the area: the GK zone of 114E
    assert cert.check(COVERS_PARENT).metrics["gap_area_m2"] == pytest.approx(2000.0, rel=1e-3)
    assert cert.check(COVERAGE_VALID).ok and cert.check(NO_OVERLAPS).ok


def test_invalid_geometry_is_reported_not_crashed():
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 200), (X0 + 100, Y0), (X0, Y0 + 200)])
    cert = check_partition(grids_frame([bowtie, rect(100, 0, 300, 200)]), PARENT)
    check = cert.check(GEOMETRY_VALID)
    assert not check.ok and check.issues[0]["grid"] == "410611001002001"
    assert "Self-intersection" in check.issues[0]["problem"]


def test_inputs_without_crs_are_rejected_with_the_source_named():
    grids = gpd.GeoDataFrame(geometry=three_columns())
    with pytest.raises(ValidationError, match=r"hand\.geojson: the grids layer has no CRS"):
        check_partition(grids, PARENT, source="hand.geojson")


def test_validate_community_takes_a_store_row():
    areas = gpd.GeoDataFrame({"code": ["410611001002"], "name": ["x"]}, geometry=[PARENT], crs=GK)
    grids = grids_frame(three_columns(), [350, 400, 450], community_code=["410611001002"] * 3)
    cert = validate_community(grids, areas.iloc[0], BUILDINGS, BAND)
    assert cert.ok and cert.communities == ("410611001002",)
    summary = "\n".join(validate_community(grids.iloc[:2], areas.iloc[0], None, BAND).summary())
    assert summary.startswith("FAIL") and "covers_parent" in summary and "gap_area" not in summary
    assert np.isclose(validate_community(grids.iloc[:2], areas, None, None).check(COVERS_PARENT).metrics["gap_area_m2"],
                      20000.0)  # fmt: skip


def write_layer(path, geoms, crs=GK, **columns):
    gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs).to_crs(4326).to_file(path)
    return str(path)


def run_validate(*args):
    from click.testing import CliRunner

    from gridmap.cli.main import cli

    return CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)


def test_cli_validate_passes_and_fails_with_exit_status(tmp_path):
    parent = write_layer(tmp_path / "parent.geojson", [PARENT], code=["410611001002"])
    good = write_layer(tmp_path / "good.geojson", three_columns(), code=["a", "b", "c"], households=[350, 400, 450])
    buildings = tmp_path / "buildings.geojson"
    BUILDINGS.to_crs(4326).to_file(buildings)
    result = run_validate("--grids", good, "--parent", parent, "--buildings", str(buildings), "--min", "300",
                          "--max", "500")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PASS: 3 grids in 1 community" in result.output

    holed = three_columns()
    holed[1] = Polygon(holed[1].exterior.coords, [rect(140, 90, 160, 110).exterior.coords])
    bad = write_layer(tmp_path / "bad.geojson", holed, code=["a", "b", "c"], households=[350, 400, 450])
    result = run_validate("--grids", bad, "--parent", parent, "--min", "300", "--max", "500", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["inputs"]["band"] == {"min": 300, "max": 500, "target": 400}
    covers = next(c for c in report["checks"] if c["name"] == COVERS_PARENT)
    assert covers["issues"][0]["kind"] == "hole"
    assert covers["issues"][0]["area_m2"] == pytest.approx(400.0, rel=1e-3)


def test_cli_validate_reports_unusable_input(tmp_path):
    parent = write_layer(tmp_path / "parent.geojson", [PARENT])
    result = run_validate("--grids", parent, "--parent", parent, "--min", "300")
    assert result.exit_code == 2 and "both --min and --max" in result.output
    notes = tmp_path / "notes.txt"
    notes.write_text("not a map")
    result = run_validate("--grids", str(notes), "--parent", parent)
    assert result.exit_code == 2 and "notes.txt" in result.output


def test_community_codes_are_checked_against_the_parent_layer():
    communities = gpd.GeoDataFrame(
        {"code": ["410611001001", "410611001002"]}, geometry=[rect(0, 0, 150, 200), rect(150, 0, 300, 200)], crs=GK
    )
    geoms = [rect(0, 0, 150, 200), rect(150, 0, 300, 200)]
    # The second grid names the wrong community and the first one an unknown code.
    grids = grids_frame(geoms, community_code=["410611001999", "410611001001"])
    nesting = check_partition(grids, communities).check(WITHIN_ONE_COMMUNITY)
    assert [i["problem"] for i in nesting.issues] == [
        "its community_code 410611001999 names no community of the parent layer",
        "its community_code is 410611001001 but it lies in community 410611001002",
    ]
    # A single parent polygon has no codes to compare with: community_code is then not judged.
    assert check_partition(grids, PARENT).ok


def straddling_case() -> gpd.GeoDataFrame:
    # a 20 x 10 m building across the edge x = 100 between the first two grids: 14 m west, 6 m east;
    # a 10 x 10 m building 0.05 m across the edge x = 200 (0.5 m², 0.5%: not a cut, noise)
    footprints = [rect(86, 95, 106, 105), rect(140, 40, 160, 60), rect(240, 90, 260, 110),
                  rect(190.05, 20, 200.05, 30)]  # fmt: skip
    return gpd.GeoDataFrame({"building_id": ["across", "east", "far", "edge"], "households": [350, 400, 450, 0]},
                            geometry=footprints, crs=GK)  # fmt: skip


def test_a_building_cut_by_a_grid_edge_fails_the_certificate():
    cert = check_partition(grids_frame(three_columns(), [350, 400, 450]), PARENT, buildings=straddling_case(),
                           band=BAND)  # fmt: skip
    check = cert.check(BUILDINGS_STRADDLING)
    assert not cert.ok and not check.ok and not check.warning
    assert [c.name for c in cert.failed] == [BUILDINGS_STRADDLING]
    assert check.metrics == {"straddling": 1, "outside_area_m2": 60.0}
    (issue,) = check.issues
    grids = grids_frame(three_columns())["code"].tolist()
    assert issue["building"] == "across" and issue["grid"] == grids[0]  # its point lies west of the edge
    assert issue["also_in"] == {grids[1]: pytest.approx(60.0)} and issue["area_m2"] == pytest.approx(200.0)
    assert issue["outside_m2"] == pytest.approx(60.0)
    assert any(line.startswith("  [FAIL] buildings_straddling") for line in cert.summary())


def test_allow_straddling_makes_a_cut_building_a_warning():
    cert = check_partition(grids_frame(three_columns(), [350, 400, 450]), PARENT, buildings=straddling_case(),
                           band=BAND, allow_straddling=True)  # fmt: skip
    check = cert.check(BUILDINGS_STRADDLING)
    assert cert.ok and check.ok and check.warning and check.metrics["straddling"] == 1
    assert any(line.startswith("  [warn] buildings_straddling") for line in cert.summary())
    assert json.loads(cert.to_json())["checks"][-1]["warning"] is True


def test_geojson_of_an_invalid_projected_sliver_is_repaired_not_a_crash():
    """A gap sliver projected to lon/lat can come out with a hole outside its shell; GEOS cannot
    round such a shape ("unable to assign free hole to a shell"), so it is repaired first."""
    import pyproj
    import shapely

    from gridmap.partition.certificate.report import GeoJsonWriter, rounded_lonlat

    invalid = Polygon(box(0, 0, 1e-5, 1e-5).exterior.coords, [box(2e-5, 0, 3e-5, 1e-5).exterior.coords])
    with pytest.raises(shapely.errors.GEOSException, match="free hole"):
        shapely.set_precision(invalid, 1e-8)
    fixed = rounded_lonlat(invalid)
    assert fixed.is_valid and fixed.covers(box(0, 0, 1e-5, 1e-5))  # nothing of the shell is lost
    writer = GeoJsonWriter(pyproj.CRS.from_user_input(GK))
    metric_sliver = Polygon(rect(0, 0, 10, 10).exterior.coords, [rect(20, 0, 30, 10).exterior.coords])
    shape = writer(metric_sliver)
    assert shape["type"] in ("Polygon", "MultiPolygon") and shapely.geometry.shape(shape).is_valid
    lon, lat = pyproj.Transformer.from_crs(GK, 4326, always_xy=True).transform(X0 + 5, Y0 + 5)
    assert shapely.geometry.shape(shape).contains(Point(lon, lat))


def test_long_lonlat_edges_are_compared_along_their_course():
    """A 20 km edge stored in lon/lat is straight in lon/lat; projected by its end points alone it
    would bow away from the grids that follow it by metres and fake a gap."""
    import shapely

    parent = box(113.9, 35.70, 114.12, 35.75)  # ~20 km x 5.5 km, four vertices
    west = shapely.segmentize(box(113.9, 35.70, 114.01, 35.75), 1e-4)  # grids follow the lon/lat edges
    east = shapely.segmentize(box(114.01, 35.70, 114.12, 35.75), 1e-4)
    grids = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[west, east], crs=4326)
    cert = check_partition(grids, gpd.GeoDataFrame(geometry=[parent], crs=4326))
    covers = cert.check(COVERS_PARENT)
    assert covers.ok, covers.issues
    assert covers.metrics["gap_area_m2"] < 1.0 and covers.metrics["outside_area_m2"] < 1.0
    # what projecting the four corners alone would have compared against: far more than 1 m² off
    crs = cert.working_crs
    straight = gpd.GeoSeries([parent], crs=4326).to_crs(crs).iloc[0]
    followed = gpd.GeoSeries([shapely.segmentize(parent, 1e-4)], crs=4326).to_crs(crs).iloc[0]
    assert shapely.symmetric_difference(straight, followed).area > 100.0
