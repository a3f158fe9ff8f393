"""Readers: every supported format gives the same rows; broken files fail with the file named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gridmap.errors import ValidationError
from gridmap.io.readers import read_source

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def streets() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "hebi_streets.geojson")


def _feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def test_geojson_reads_columns_geometry_and_crs() -> None:
    source = read_source(DATA / "hebi_communities.geojson")
    assert source.kind == "geojson"
    assert source.columns == ["code", "name", "households"]
    assert list(source.frame["code"]) == ["410611001001", "410611001002", "410611002001", "410611002002"]
    assert source.crs == "EPSG:4326"
    assert [g.geom_type for g in source.geometries] == ["MultiPolygon"] * 4
    assert source.geometry_issues == {}


def test_unclosed_ring_is_recorded_not_fatal(tmp_path: Path) -> None:
    ring_open = [[114.0, 35.0], [114.01, 35.0], [114.01, 35.01], [114.0, 35.01]]
    feats = [
        {"type": "Feature", "properties": {"code": "a"}, "geometry": {"type": "Polygon", "coordinates": [ring_open]}},
        {"type": "Feature", "properties": {"code": "b"}, "geometry": {"type": "Point", "coordinates": [114, 35]}},
    ]
    path = tmp_path / "open.geojson"
    path.write_text(json.dumps(_feature_collection(feats)))
    source = read_source(path)
    assert source.geometries[0] is None and source.geometries[1].geom_type == "Point"
    issue = source.geometry_issues[0]
    assert "not closed" in issue.reason
    assert issue.repaired is not None and issue.repaired.is_valid
    assert issue.repaired.area == pytest.approx(0.01 * 0.01)


def test_truncated_geojson_names_file_and_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.geojson"
    path.write_bytes((DATA / "hebi_streets.geojson").read_bytes()[:300])
    with pytest.raises(ValidationError) as err:
        read_source(path)
    assert str(path) in err.value.message
    assert err.value.code == "unreadable_file"
    assert "Failed to read GeoJSON data" in err.value.message  # GDAL's own reason is passed on


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        read_source(tmp_path / "nope.geojson")
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(ValidationError, match=r"unknown file type '.xlsx'"):
        read_source(odd)


def test_geopackage_layer_choice(tmp_path: Path, streets: gpd.GeoDataFrame) -> None:
    path = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(streets, path, layer="jiedao")
    pyogrio.write_dataframe(streets.iloc[:1], path, layer="other", append=False)
    with pytest.raises(ValidationError) as err:
        read_source(path)
    assert "jiedao" in err.value.message and "other" in err.value.message and str(path) in err.value.message
    assert len(read_source(path, file_layer="other").frame) == 1
    assert len(read_source(path, prefer_layers=["JIEDAO"]).frame) == 2
    with pytest.raises(ValidationError, match="has no layer 'missing'"):
        read_source(path, file_layer="missing")


def test_shapefile_and_zipped_shapefile_match(tmp_path: Path, streets: gpd.GeoDataFrame) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(streets, folder / "streets.shp", encoding="UTF-8")
    plain = read_source(folder / "streets.shp")
    archive = tmp_path / "streets.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"inner/{f.name}")  # a folder inside the zip, as people zip them
    zipped = read_source(archive)
    assert list(zipped.frame["name"]) == list(plain.frame["name"]) == ["西城街道", "东城街道"]
    assert all(a.equals(b) for a, b in zip(zipped.geometries, plain.geometries, strict=True))
    assert zipped.crs == plain.crs == "EPSG:4326"


def test_truncated_shapefile_is_detected(tmp_path: Path, streets: gpd.GeoDataFrame) -> None:
    pyogrio.write_dataframe(streets, tmp_path / "s.shp")
    data = (tmp_path / "s.shp").read_bytes()
    (tmp_path / "s.shp").write_bytes(data[: len(data) - 40])
    with pytest.raises(ValidationError) as err:
        read_source(tmp_path / "s.shp")
    assert "truncated" in err.value.message and "s.shp" in err.value.message
    assert f"header says {len(data)} bytes but it has {len(data) - 40}" in err.value.message


def test_shapefile_without_cpg_in_gbk(tmp_path: Path, streets: gpd.GeoDataFrame) -> None:
    pyogrio.write_dataframe(streets.rename(columns={"name": "名称"}), tmp_path / "g.shp", encoding="GBK")
    (tmp_path / "g.cpg").unlink()
    source = read_source(tmp_path / "g.shp")
    assert list(source.frame["名称"]) == ["西城街道", "东城街道"]
    assert any("no .cpg" in w for w in source.warnings)


@pytest.mark.parametrize(
    ("lon", "lat"), [("lon", "lat"), ("lng", "lat"), ("Longitude", "Latitude"), ("x", "y"), ("经度", "纬度")]
)
def test_csv_lon_lat_names(tmp_path: Path, lon: str, lat: str) -> None:
    path = tmp_path / "points.csv"
    path.write_text(f"code,{lon},{lat}\n410611001001,114.25,35.72\n0410,114.35,35.78\n", encoding="utf-8")
    source = read_source(path)
    assert source.columns == ["code"]
    assert list(source.frame["code"]) == ["410611001001", "0410"]  # text kept, leading zero intact
    assert [(g.x, g.y) for g in source.geometries] == [(114.25, 35.72), (114.35, 35.78)]


def test_csv_wkt_gb18030_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    rows = 'name,wkt\n甲,"POINT (114.2 35.7)"\n乙,"POLYGON ((0 0, 1 0, 1 1, 0 1))"\n丙,"NOT WKT"\n'
    path.write_bytes(rows.encode("gb18030"))
    source = read_source(path)
    assert list(source.frame["name"]) == ["甲", "乙", "丙"]
    assert source.geometries[0].equals(shapely.Point(114.2, 35.7))
    assert "not closed" in source.geometry_issues[1].reason
    assert "WKT" in source.geometry_issues[2].reason or "Unknown type" in source.geometry_issues[2].reason
    assert any("gb18030" in w for w in source.warnings)


def test_csv_non_numeric_coordinates_and_no_geometry(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,lon,lat\na,114.2,35.7\nb,east,35.7\nc,,\n", encoding="utf-8")
    source = read_source(path)
    assert source.geometries[1] is None and "not numbers" in source.geometry_issues[1].reason
    assert source.geometries[2] is None and 2 not in source.geometry_issues  # blank: empty, reported later
    table = tmp_path / "workers.csv"
    table.write_text("worker_id,name,role\nw1,张三,full_time\n", encoding="utf-8")
    plain = read_source(table)
    assert not plain.has_geometry and plain.columns == ["worker_id", "name", "role"]


def test_csv_map_names_geometry_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,E,N\na,114.2,35.7\n", encoding="utf-8")
    source = read_source(path, column_map={"lon": "E", "lat": "N"})
    assert source.geometries[0].equals(shapely.Point(114.2, 35.7))
    with pytest.raises(ValidationError, match=r"--map lon=Q names no column; the file has: id, E, N"):
        read_source(path, column_map={"lon": "Q", "lat": "N"})
