"""Column mapping, typing and CRS decisions: the file-only half of an import."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.io import columns, prepare
from gridmap.io.readers import read_source

DATA = Path(__file__).parents[1] / "data"
STREETS = columns.import_layer_named("streets")


def test_aliases_and_map() -> None:
    path = Path("x.csv")
    assert columns.resolve_columns(["CODE", "名称", "户数"], STREETS, {}, path=path) == {
        "code": "CODE",
        "name": "名称",
        "households": "户数",
    }
    got = columns.resolve_columns(["jd_dm", "jd_mc", "name"], STREETS, {"code": "jd_dm", "name": "jd_mc"}, path=path)
    assert got["code"] == "jd_dm" and got["name"] == "jd_mc"
    buildings = columns.import_layer_named("buildings")
    got = columns.resolve_columns(
        ["building:levels", "addr:street", "building", "househol01"], buildings, {}, path=path
    )
    assert got == {
        "floors": "building:levels",
        "road_name": "addr:street",
        "building_type": "building",
        "households_estimated": "househol01",  # the shapefile name writers.py gives it
    }


def test_missing_required_columns_message() -> None:
    with pytest.raises(ValidationError) as err:
        columns.resolve_columns(["JD", "MC_X"], STREETS, {}, path=Path("/tmp/jd.shp"))
    msg = err.value.message
    assert msg.startswith("/tmp/jd.shp: layer streets needs column(s) code, name")
    assert "its columns are: JD, MC_X" in msg and "--map code=COLUMN --map name=COLUMN" in msg
    assert err.value.details["missing"] == ["code", "name"]
    assert "gridmap incidents import" not in msg


def test_incidents_without_ids_point_to_the_hotline_import() -> None:
    with pytest.raises(ValidationError) as err:
        columns.resolve_columns(["category", "lon", "lat"], columns.import_layer_named("incidents"), {},
                                path=Path("/tmp/12345.csv"))
    assert "needs column(s) incident_id, status" in err.value.message
    assert err.value.message.endswith("(a hotline export without them: gridmap incidents import 12345.csv)")


def test_bad_map_arguments() -> None:
    with pytest.raises(ValidationError, match="unknown field"):
        columns.resolve_columns(["code", "name"], STREETS, {"colour": "code"}, path=Path("f.csv"))
    with pytest.raises(ValidationError, match=r"--map name=NAME: the file has no column 'NAME'; its columns are: code"):
        columns.resolve_columns(["code"], STREETS, {"name": "NAME"}, path=Path("f.csv"))


def test_typed_columns_report_bad_values_per_feature() -> None:
    raw = pd.DataFrame(
        {"code": [410611001.0, "410611002", None], "name": ["甲", "乙", "丙"], "households": ["120", "many", "3.5"]},
        dtype=object,
    )
    mapping = {"code": "code", "name": "name", "households": "households"}
    labels = columns.feature_labels(raw, ["code", "name"])
    frame, problems = columns.typed_columns(raw, STREETS, mapping, labels)
    assert frame["code"].tolist() == ["410611001", "410611002", None]
    assert frame["households"].tolist() == [120, pd.NA, pd.NA]
    assert [(p.row, p.rule) for p in problems] == [(1, "bad_value"), (2, "bad_value")]
    assert "feature 2 (code 410611002, name 乙): column households = 'many'" in problems[0].message
    missing = columns.missing_value_problems(frame, STREETS.required, labels)
    assert [(p.row, p.rule, p.message) for p in missing] == [(2, "missing_value", "feature 3 (name 丙): code is empty")]


def test_json_and_bool_values() -> None:
    workers = columns.import_layer_named("workers")
    raw = pd.DataFrame(
        {"worker_id": ["w1"], "name": ["张三"], "role": ["full_time"], "extra_grid_codes": ["a;b"], "active": ["是"]},
        dtype=object,
    )
    mapping = columns.resolve_columns(list(raw.columns), workers, {}, path=Path("w.csv"))
    frame, problems = columns.typed_columns(raw, workers, mapping, ["feature 1"])
    assert problems == [] and frame["extra_grid_codes"][0] == ["a", "b"] and bool(frame["active"][0])


def test_crs_rules(tmp_path: Path) -> None:
    source = read_source(DATA / "hebi_streets.geojson")
    assert prepare.crs_of_source(source, None)[0].name == "EPSG:4326"
    assert prepare.crs_of_source(source, "gcj02")[0].name == "gcj02"
    with pytest.raises(ValidationError) as err:
        prepare.crs_of_source(source, "mars")
    assert "hebi_streets.geojson: --crs mars: unknown CRS" in err.value.message and "gcj02" in err.value.message
    frame = gpd.read_file(DATA / "hebi_streets.geojson")
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        pyogrio.write_dataframe(frame.set_crs(None, allow_override=True), tmp_path / "noprj.shp")
    with pytest.raises(ValidationError, match=r"noprj\.shp: the shapefile has no \.prj") as err:
        prepare.crs_of_source(read_source(tmp_path / "noprj.shp"), None)  # metres read as degrees would be nonsense
    assert err.value.code == "unknown_crs" and "--crs" in err.value.message
    assert prepare.crs_of_source(read_source(tmp_path / "noprj.shp"), "EPSG:4326")[0].name == "EPSG:4326"
    pyogrio.write_dataframe(frame.to_crs("EPSG:4547"), tmp_path / "gk.shp")  # .prj holds WKT, no EPSG code
    assert prepare.crs_of_source(read_source(tmp_path / "gk.shp"), None)[0].name == "EPSG:4547"


def test_projected_input_lands_in_storage_crs(tmp_path: Path) -> None:
    streets = gpd.read_file(DATA / "hebi_streets.geojson")
    pyogrio.write_dataframe(streets.to_crs("EPSG:4547"), tmp_path / "gk.gpkg")
    source = read_source(tmp_path / "gk.gpkg")
    prepared = prepare.prepare_features(source, STREETS, Settings())
    assert prepared.problems == [] and prepared.frame.crs.to_epsg() == 4326
    for got, want in zip(prepared.frame.geometry, streets.geometry, strict=True):
        assert shapely.hausdorff_distance(got, want) < 1e-7  # degrees, ~1 cm


def test_claimed_degrees_but_metres(tmp_path: Path) -> None:
    streets = gpd.read_file(DATA / "hebi_streets.geojson").to_crs("EPSG:4547").set_crs(4326, allow_override=True)
    pyogrio.write_dataframe(streets, tmp_path / "liar.gpkg")
    prepared = prepare.prepare_features(read_source(tmp_path / "liar.gpkg"), STREETS, Settings())
    assert [(p.row, p.rule) for p in prepared.problems] == [(0, "metres_not_degrees"), (1, "metres_not_degrees")]
    assert "feature 1 (code 410611001, name 西城街道): coordinates look like metres" in prepared.problems[0].message
