"""Writers: every format reads back with the layer's columns; shapefile names are short and stable."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors
import pytest
import shapely

from gridmap import schema
from gridmap.errors import ValidationError
from gridmap.io.readers import read_source
from gridmap.io.writers import shapefile_cut_fields, shapefile_field_names, write_frame


@pytest.mark.parametrize("spec", list(schema.LAYERS.values()), ids=list(schema.LAYERS))
def test_shapefile_names_short_unique_stable(spec: schema.LayerSpec) -> None:
    names = shapefile_field_names(spec.column_names)
    assert list(names) == list(spec.column_names)
    assert all(len(n) <= 10 for n in names.values())
    assert len({n.lower() for n in names.values()}) == len(names)
    assert shapefile_field_names(spec.column_names) == names
    for col, short in names.items():
        assert short == col[:10] or short[:8] == col[:8]


def test_shapefile_names_collisions() -> None:
    names = shapefile_field_names(schema.BUILDINGS_SPEC.column_names)
    assert names["households"] == "households" and names["households_estimated"] == "househol01"
    assert shapefile_field_names(["abcdefghij_1", "abcdefghij_2", "abcdefghij_3"]) == {
        "abcdefghij_1": "abcdefghij",
        "abcdefghij_2": "abcdefgh01",
        "abcdefghij_3": "abcdefgh02",
    }


def _buildings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "building_id": ["b1", "b2"],
            "name": ["一号楼", None],
            "floors": pd.array([6, None], dtype="Int64"),
            "footprint_m2": [600.5, None],
            "households": pd.array([30, 12], dtype="Int64"),
            "households_estimated": pd.array([True, False], dtype="boolean"),
        },
        geometry=[shapely.box(114.2, 35.7, 114.201, 35.701), shapely.box(114.3, 35.7, 114.301, 35.701)],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv"])
def test_formats_read_back(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"b.{fmt}"
    assert write_frame(_buildings(), schema.BUILDINGS_SPEC, fmt, out) == 2
    back = read_source(out)
    names = shapefile_field_names(schema.BUILDINGS_SPEC.column_names)
    expected_cols = [names[c] if fmt == "shp" else c for c in schema.BUILDINGS_SPEC.column_names]
    assert back.columns == expected_cols
    est = back.frame[names["households_estimated"] if fmt == "shp" else "households_estimated"]
    assert [str(v).lower() in {"true", "1"} for v in est] == [True, False]
    assert back.frame["name"].iloc[0] == "一号楼"
    assert all(a.equals(b) for a, b in zip(back.geometries, _buildings().geometry, strict=True))


def test_csv_points_get_lon_lat(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"incident_id": ["i1"], "category": ["噪音"], "reported_at": [pd.Timestamp("2024-05-01T08:00", tz="UTC")]},
        geometry=[shapely.Point(114.25, 35.72)],
        crs="EPSG:4326",
    )
    out = tmp_path / "i.csv"
    write_frame(frame, schema.INCIDENTS_SPEC, "csv", out)
    text = out.read_text(encoding="utf-8-sig")
    header = text.splitlines()[0].split(",")
    assert header[-2:] == ["lon", "lat"] and "wkt" not in header
    assert "2024-05-01T08:00:00+00:00" in text and "噪音" in text


def test_shapefile_refuses_mixed_geometry_and_attribute_tables(tmp_path: Path) -> None:
    mixed = _buildings()
    mixed.loc[1, "geometry"] = shapely.Point(114.3, 35.7)
    with pytest.raises(ValidationError, match="a shapefile holds one geometry type"):
        write_frame(mixed, schema.BUILDINGS_SPEC, "shp", tmp_path / "m.shp")
    write_frame(mixed, schema.BUILDINGS_SPEC, "gpkg", tmp_path / "m.gpkg")
    assert pyogrio.read_info(tmp_path / "m.gpkg")["features"] == 2
    workers = pd.DataFrame({"worker_id": ["w1"], "name": ["张三"], "role": ["full_time"], "extra_grid_codes": [["a"]]})
    with pytest.raises(ValidationError, match="has no geometry; export it as csv or gpkg"):
        write_frame(workers, schema.WORKERS_SPEC, "shp", tmp_path / "w.shp")
    write_frame(workers, schema.WORKERS_SPEC, "csv", tmp_path / "w.csv")
    assert '"[""a""]"' in (tmp_path / "w.csv").read_text(encoding="utf-8-sig")


def test_a_zip_name_gets_a_zipped_shapefile_that_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "b.zip"
    assert write_frame(_buildings(), schema.BUILDINGS_SPEC, "shp", out) == 2
    with zipfile.ZipFile(out) as bundle:
        assert sorted(bundle.namelist()) == ["b.cpg", "b.dbf", "b.prj", "b.shp", "b.shx"]
    back = read_source(out)
    assert back.frame["name"].iloc[0] == "一号楼"
    assert all(a.equals(b) for a, b in zip(back.geometries, _buildings().geometry, strict=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip"]  # no loose parts, no .part file


@pytest.mark.parametrize("name", ["b.geojson", "b.shp", "b.zip"])
def test_a_failed_write_leaves_no_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def half_written(_data: object, path: Path, **_kw: object) -> None:
        Path(path).write_bytes(b"{\"type\": \"FeatureCo")  # what a crash mid-write leaves
        if Path(path).suffix == ".shp":
            Path(path).with_suffix(".dbf").write_bytes(b"\x03")
        raise pyogrio.errors.DataSourceError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", half_written)
    with pytest.raises(ValidationError, match=r"cannot write .*disk full"):
        write_frame(_buildings(), schema.BUILDINGS_SPEC, "shp" if name != "b.geojson" else "geojson", tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_text_a_shapefile_cuts_is_counted_not_warned_raw(tmp_path: Path) -> None:
    frame = _buildings()
    frame.loc[0, "name"] = "楼" * 100  # 300 bytes in UTF-8: more than a DBF text field holds
    assert shapefile_cut_fields(frame, schema.BUILDINGS_SPEC) == {"name": 1}
    assert shapefile_cut_fields(_buildings(), schema.BUILDINGS_SPEC) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # GDAL's raw RuntimeWarning would fail here
        write_frame(frame, schema.BUILDINGS_SPEC, "shp", tmp_path / "long.shp")
    assert len(read_source(tmp_path / "long.shp").frame["name"].iloc[0].encode("utf-8")) <= 254
