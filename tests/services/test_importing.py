"""import_layer against both stores: bad input is refused with file/feature/rule named and nothing written."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.services import importing
from gridmap.services.importing import import_layer
from gridmap.store.base import Store

DATA = Path(__file__).parents[1] / "data"
GEOD = pyproj.Geod(ellps="WGS84")
_TO_LONLAT = pyproj.Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)


def counts(store: Store) -> dict[str, int]:
    return {name: store.count(name) for name in schema.LAYERS}


def load_hierarchy(store: Store, settings: Settings, *, upto: str = "communities") -> None:
    for layer in ("districts", "streets", "communities"):
        import_layer(store, settings, layer, DATA / f"hebi_{layer}.geojson")
        if layer == upto:
            return


def streets() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "hebi_streets.geojson")


def save(frame: gpd.GeoDataFrame, path: Path) -> Path:
    pyogrio.write_dataframe(frame, path)
    return path


def rejected(store: Store, settings: Settings, layer: str, path: Path, **kwargs: Any) -> ValidationError:
    """Run an import that must fail; check the store did not change and the message names the file."""
    before = counts(store)
    with pytest.raises(ValidationError) as err:
        import_layer(store, settings, layer, path, **kwargs)
    assert counts(store) == before
    assert str(path) in err.value.message
    return err.value


BOWTIE = shapely.MultiPolygon([shapely.Polygon([(114.3, 35.7), (114.4, 35.8), (114.4, 35.7), (114.3, 35.8)])])


# ---------------------------------------------------------------- good input


def test_hierarchy_import(store: Store, settings: Settings) -> None:
    load_hierarchy(store, settings)
    areas = store.read(schema.AREAS).sort_values("code")
    assert areas["level"].tolist() == [
        "district",
        "street",
        "community",
        "community",
        "street",
        "community",
        "community",
    ]
    assert areas["parent_code"].tolist() == [
        None,
        "410611",
        "410611001",
        "410611001",
        "410611",
        "410611002",
        "410611002",
    ]
    assert areas.loc[areas.level == "community", "households"].sum() == 4400
    assert set(areas.geometry.geom_type) == {"MultiPolygon"} and areas.crs.to_epsg() == 4326


def test_fix_repairs_and_reports(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    frame = streets()
    frame.loc[1, "geometry"] = BOWTIE
    report = import_layer(store, settings, "streets", save(frame, tmp_path / "s.geojson"), fix=True, actor="cli:li")
    assert [(r["row"], r["feature"]) for r in report.repaired] == [(1, "feature 2 (code 410611002, name 东城街道)")]
    assert "Self-intersection" in report.repaired[0]["problem"]
    stored = store.read(schema.AREAS, where={"level": "street"}).sort_values("code")
    assert stored.geometry.is_valid.all() and len(stored) == 2
    logged = store.read(schema.AUDIT_LOG, where={"action": "data.import"}).sort_values("at")
    assert logged["target"].tolist() == [schema.AREAS, schema.AREAS]  # the districts, then these streets
    assert logged.iloc[-1]["actor"] == "cli:li" and logged.iloc[-1]["detail"] == {
        "layer": "streets", "file": "s.geojson", "crs": "EPSG:4326", "features": 2,
        "repaired": ["feature 2 (code 410611002, name 东城街道)"]}


def _rectangle(x0: float, y0: float, width_m: float, height_m: float) -> shapely.Polygon:
    metric = shapely.box(x0, y0, x0 + width_m, y0 + height_m)
    return shapely.transform(metric, lambda xy: np.column_stack(_TO_LONLAT.transform(xy[:, 0], xy[:, 1])))


def test_buildings_households_and_communities(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings)
    east, north = _TO_LONLAT.transform(114.25, 35.72, direction="INVERSE")  # inside 西城南社区
    frame = gpd.GeoDataFrame(
        {
            "id": ["b1", "b2", "b3"],
            "层数": ["6", None, "2"],
            "户数": [None, 40, None],
            "类型": ["住宅", None, "工业"],
        },
        geometry=[
            _rectangle(east, north, 30, 20),
            _rectangle(east + 100, north, 30, 20),
            _rectangle(east, north + 100, 50, 40),
        ],
        crs="EPSG:4326",
    )
    report = import_layer(
        store, settings, "buildings", save(frame, tmp_path / "b.gpkg"), column_map={"building_id": "id"}
    )
    got = store.read(schema.BUILDINGS).sort_values("building_id")
    assert got["households"].tolist() == [30, 40, 0]  # 600 m² × 6 × 0.75 / 90 = 30; given 40; industrial 0
    assert got["households_estimated"].tolist() == [True, False, True]
    assert got["community_code"].tolist() == ["410611001001"] * 3
    assert got["footprint_m2"].iloc[0] == pytest.approx(600, rel=1e-3)
    assert report.households_total == 70 and report.households_estimated == 2
    assert report.community_codes_assigned == 3


def test_point_buildings_default_with_warning(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "pts.csv"
    path.write_text("building_id,lon,lat,households\np1,114.25,35.72,12\np2,114.26,35.72,\n", encoding="utf-8")
    report = import_layer(store, settings, "buildings", path)
    got = store.read(schema.BUILDINGS).sort_values("building_id")
    assert got["households"].tolist() == [12, round(400 * 3 * 0.75 / 90)]
    assert got["households_estimated"].tolist() == [False, True]
    assert any("1 point building(s) had no households" in w for w in report.warnings)


def test_zipped_shapefile(store: Store, settings: Settings, tmp_path: Path) -> None:
    import zipfile

    load_hierarchy(store, settings, upto="districts")
    (tmp_path / "shp").mkdir()
    pyogrio.write_dataframe(streets(), tmp_path / "shp" / "jd.shp", encoding="UTF-8")
    archive = tmp_path / "jd.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (tmp_path / "shp").iterdir():
            zf.write(f, f.name)
    report = import_layer(store, settings, "streets", archive)
    assert report.features_written == 2
    assert sorted(store.read(schema.AREAS, where={"level": "street"})["name"]) == ["东城街道", "西城街道"]


def _gcj_delta(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The published GCJ-02 offset polynomial (written here independently of gridmap.crs)."""
    pi = math.pi
    lat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    lon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    common = (20 * np.sin(6 * x * pi) + 20 * np.sin(2 * x * pi)) * 2 / 3
    lat += common + (20 * np.sin(y * pi) + 40 * np.sin(y / 3 * pi)) * 2 / 3
    lat += (160 * np.sin(y / 12 * pi) + 320 * np.sin(y * pi / 30)) * 2 / 3
    lon += common + (20 * np.sin(x * pi) + 40 * np.sin(x / 3 * pi)) * 2 / 3
    lon += (150 * np.sin(x / 12 * pi) + 300 * np.sin(x / 30 * pi)) * 2 / 3
    return lon, lat


def gcj02_from_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, ee = 6378245.0, 0.00669342162296594323
    dlon, dlat = _gcj_delta(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * np.sin(rad) ** 2
    dlat = dlat * 180.0 / ((a * (1 - ee)) / (magic * np.sqrt(magic)) * math.pi)
    dlon = dlon * 180.0 / (a / np.sqrt(magic) * np.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def test_gcj02_input_lands_on_wgs84_truth(store: Store, settings: Settings, tmp_path: Path) -> None:
    tx, ty = gcj02_from_wgs84(np.array([116.391275]), np.array([39.906217]))  # Tiananmen: check the formula
    assert GEOD.inv(tx[0], ty[0], 116.397524, 39.907596)[2] < 3.0  # the commonly quoted value is rounded
    rng = np.random.default_rng(20240501)
    lon, lat = rng.uniform(114.21, 114.39, 25), rng.uniform(35.71, 35.79, 25)
    glon, glat = gcj02_from_wgs84(lon, lat)
    shift = GEOD.inv(lon, lat, glon, glat)[2]
    assert shift.min() > 100  # the input really is offset
    rows = ["incident_id,category,status,reported_at,lng,lat"]
    rows += [
        f"e{i},噪音,open,2024-05-01T08:00:00+08:00,{x:.9f},{y:.9f}"
        for i, (x, y) in enumerate(zip(glon, glat, strict=True))
    ]
    path = tmp_path / "amap.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    load_hierarchy(store, settings)
    report = import_layer(store, settings, "incidents", path, crs="gcj02")
    assert report.crs == "gcj02"
    got = store.read(schema.INCIDENTS).sort_values("incident_id", key=lambda s: s.str[1:].astype(int))
    error_m = GEOD.inv(got.geometry.x.to_numpy(), got.geometry.y.to_numpy(), lon, lat)[2]
    assert error_m.max() < 1.0
    assert got["reported_at"].iloc[0] == pd.Timestamp("2024-05-01T00:00:00Z")
    assert got["community_code"].notna().all() and (got["street_code"] == got["community_code"].str[:9]).all()


def test_workers_csv(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "workers.csv"
    path.write_text("工号,姓名,岗位,电话,grid_code,extra_grid_codes\nw1,张三,full_time,13800000000,g1,g2;g3\n", "utf-8")
    report = import_layer(store, settings, "workers", path)
    got = store.read(schema.WORKERS)
    assert report.features_written == 1
    assert got.iloc[0][["worker_id", "name", "role", "phone"]].tolist() == ["w1", "张三", "full_time", "13800000000"]
    assert got.iloc[0]["extra_grid_codes"] == ["g2", "g3"]


# ---------------------------------------------------------------- bad input: nothing written


def test_invalid_geometry_lists_every_feature(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    frame = streets()
    frame["geometry"] = [BOWTIE, BOWTIE]
    err = rejected(store, settings, "streets", save(frame, tmp_path / "bad.geojson"))
    assert (
        "[invalid_geometry] feature 1 (code 410611001, name 西城街道): Self-intersection[114.35 35.75]" in err.message
    )
    assert "feature 2 (code 410611002, name 东城街道)" in err.message and "--fix" in err.message
    assert [(d["row"], d["rule"]) for d in err.details] == [(0, "invalid_geometry"), (1, "invalid_geometry")]
    assert err.details[0]["location"] == pytest.approx([114.35, 35.75])


def test_empty_and_wrong_type(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    path = tmp_path / "mixed.geojson"
    feats = [
        {"type": "Feature", "properties": {"code": "410611001", "name": "西城街道"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "410611002", "name": "东城街道"},
         "geometry": {"type": "Point", "coordinates": [114.35, 35.75]}},
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    err = rejected(store, settings, "streets", path)
    assert "[empty_geometry] feature 1 (code 410611001, name 西城街道): geometry is empty" in err.message
    wrong = "[wrong_geometry_type] feature 2 (code 410611002, name 东城街道): is a Point but the streets layer needs"
    assert f"{wrong} polygons" in err.message


def test_unclosed_ring(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    ring = [[114.2, 35.7], [114.3, 35.7], [114.3, 35.8], [114.2, 35.8]]
    feats = [{"type": "Feature", "properties": {"code": "410611001", "name": "西城街道"},
              "geometry": {"type": "Polygon", "coordinates": [ring]}}]  # fmt: skip
    path = tmp_path / "open.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    err = rejected(store, settings, "streets", path)
    assert "[unreadable_geometry] feature 1 (code 410611001, name 西城街道): ring is not closed" in err.message
    report = import_layer(store, settings, "streets", path, fix=True)
    assert report.features_written == 1 and "not closed" in report.repaired[0]["problem"]


def test_swapped_lon_lat(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text(
        "incident_id,category,status,reported_at,lon,lat\n"
        "e1,噪音,open,2024-05-01T08:00:00Z,114.25,35.72\n"
        "e2,噪音,open,2024-05-01T08:00:00Z,35.72,114.25\n"
        "e3,噪音,open,2024-05-01T08:00:00Z,35.73,114.26\n",
        encoding="utf-8",
    )
    err = rejected(store, settings, "incidents", path)
    assert (
        "[swapped_lon_lat] feature 2 (incident_id e2, category 噪音): longitude and latitude look swapped"
        in err.message
    )
    assert [d["row"] for d in err.details] == [1, 2]


def test_metres_in_a_degrees_file(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    liar = streets().to_crs("EPSG:4547").set_crs("EPSG:4326", allow_override=True)
    err = rejected(store, settings, "streets", save(liar, tmp_path / "liar.gpkg"))
    assert "[metres_not_degrees] feature 1 (code 410611001, name 西城街道): coordinates look like metres" in err.message
    assert "claims EPSG:4326 (degrees)" in err.message
    ok = import_layer(store, settings, "streets", tmp_path / "liar.gpkg", crs="EPSG:4547")
    assert ok.features_written == 2


def test_outside_parent_with_measure(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    frame = streets()
    frame.loc[1, "geometry"] = shapely.MultiPolygon([shapely.box(114.3, 35.7, 114.401, 35.8)])  # ~90 m too far east
    err = rejected(store, settings, "streets", save(frame, tmp_path / "wide.geojson"))
    assert (
        "[outside_parent] feature 2: street 410611002 东城街道 lies partly outside its parent 410611 淇滨区"
        in err.message
    )
    (detail,) = err.details
    expected_m = GEOD.inv(114.40, 35.75, 114.401, 35.75)[2]
    assert detail["measures"]["distance_outside_m"] == pytest.approx(expected_m, rel=0.01)
    expected_m2 = abs(GEOD.geometry_area_perimeter(shapely.box(114.4, 35.7, 114.401, 35.8))[0])
    assert detail["measures"]["area_outside_m2"] == pytest.approx(expected_m2, rel=0.01)


def test_missing_parent(store: Store, settings: Settings) -> None:
    err = rejected(store, settings, "streets", DATA / "hebi_streets.geojson")
    assert "[missing_parent] feature 1: street 410611001 西城街道: its parent 410611 does not exist" in err.message


def test_duplicate_codes_in_file_and_store(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="streets")
    err = rejected(store, settings, "streets", DATA / "hebi_streets.geojson")
    assert "[duplicate_code] feature 1: code 410611001 already exists in the store" in err.message
    assert len(err.details) == 2
    twice = gpd.GeoDataFrame(pd.concat([_communities().iloc[:1]] * 2), crs="EPSG:4326")
    err = rejected(store, settings, "communities", save(twice, tmp_path / "twice.geojson"))
    assert "[duplicate_code] feature 1, feature 2: code 410611001001 is used 2 times" in err.message


def _communities() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "hebi_communities.geojson")


def test_missing_columns(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    frame = streets().rename(columns={"code": "BH", "name": "MINGCHENG"})
    err = rejected(store, settings, "streets", save(frame, tmp_path / "cols.geojson"))
    assert "needs column(s) code, name" in err.message and "its columns are: BH, MINGCHENG" in err.message
    assert "--map code=COLUMN --map name=COLUMN" in err.message
    report = import_layer(
        store, settings, "streets", tmp_path / "cols.geojson", column_map={"code": "BH", "name": "MINGCHENG"}
    )
    assert report.features_written == 2


def test_survey_office_field_names_are_recognised_per_level(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings, upto="districts")
    frame = streets().rename(columns={"code": "JDDM", "name": "JDMC"})  # 街道代码 / 街道名称
    report = import_layer(store, settings, "streets", save(frame, tmp_path / "jd.geojson"))
    assert report.features_written == 2
    stored = store.read(schema.AREAS, where={"level": "street"})
    assert sorted(stored["code"]) == sorted(frame["JDDM"]) and sorted(stored["name"]) == sorted(frame["JDMC"])


def test_truncated_file(store: Store, settings: Settings, tmp_path: Path) -> None:
    save(streets(), tmp_path / "full.gpkg")
    data = (tmp_path / "full.gpkg").read_bytes()
    (tmp_path / "cut.gpkg").write_bytes(data[:1000])
    err = rejected(store, settings, "streets", tmp_path / "cut.gpkg")
    assert err.code == "unreadable_file" and "cannot read the file" in err.message


def test_unknown_crs(store: Store, settings: Settings) -> None:
    err = rejected(store, settings, "streets", DATA / "hebi_streets.geojson", crs="mars2000")
    assert "--crs mars2000: unknown CRS 'mars2000'" in err.message and "gcj02" in err.message


def test_bad_values_and_road_classes(store: Store, settings: Settings, tmp_path: Path) -> None:
    roads = gpd.GeoDataFrame(
        {"name": ["甲路", "乙路", "丙路"], "class": ["primary", "local", "motorway-ish"]},
        geometry=[shapely.LineString([(114.2, 35.7), (114.3, 35.7)])] * 3,
        crs="EPSG:4326",
    )
    err = rejected(store, settings, "roads", save(roads, tmp_path / "roads.geojson"))
    assert "[unknown_road_class] feature 3 (name 丙路): road_class 'motorway-ish' is not one of" in err.message
    roads.loc[2, "class"] = "living_street"
    report = import_layer(store, settings, "roads", save(roads, tmp_path / "roads2.geojson"))
    assert report.features_written == 3
    assert sorted(store.read(schema.ROADS)["road_class"]) == ["arterial", "lane", "local"]


def test_failure_mid_write_leaves_nothing(store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    load_hierarchy(store, settings, upto="districts")
    monkeypatch.setattr(importing, "WRITE_CHUNK_ROWS", 1)
    before = counts(store)

    def explode(stage: str, done: int, total: int) -> None:
        if stage == "write" and done == 1:
            raise RuntimeError("disk full")  # after the first row went in, inside the transaction

    with pytest.raises(RuntimeError, match="disk full"):
        import_layer(store, settings, "streets", DATA / "hebi_streets.geojson", progress=explode)
    assert counts(store) == before


def test_estates_and_units(store: Store, settings: Settings, tmp_path: Path) -> None:
    load_hierarchy(store, settings)
    estates = gpd.GeoDataFrame(
        {"estate_id": ["e1"], "name": ["淇滨花园"], "kind": ["managed"]},
        geometry=[shapely.box(114.25, 35.72, 114.252, 35.722)],
        crs="EPSG:4326",
    )
    report = import_layer(store, settings, "estates", save(estates, tmp_path / "estates.geojson"))
    got = store.read(schema.ESTATES)
    assert report.features_written == 1 and got["community_code"].tolist() == ["410611001001"]
    assert got.geometry.iloc[0].geom_type == "MultiPolygon"
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["u1", "u2"],
            "name": ["实验小学", "航天港"],
            "type": ["school", "spaceport"],
            "负责人": ["王五", None],
        },
        geometry=[shapely.box(114.35, 35.78, 114.351, 35.781), shapely.Point(114.36, 35.72)],
        crs="EPSG:4326",
    )
    err = rejected(store, settings, "units", save(units, tmp_path / "units.geojson"))
    assert (
        "[unknown_unit_type] feature 2 (unit_id u2, name 航天港): unit_type 'spaceport' is not one of:" in err.message
    )
    units.loc[1, "type"] = "enterprise"
    import_layer(store, settings, "units", save(units, tmp_path / "units2.geojson"))
    got = store.read(schema.UNITS).sort_values("unit_id")
    assert got["unit_type"].tolist() == ["school", "enterprise"]
    assert got["responsible_person"].tolist() == ["王五", None]
    assert got["community_code"].tolist() == ["410611002002", "410611002001"]
    assert got.geometry.geom_type.tolist() == ["Polygon", "Point"]


def test_duplicate_keys_of_keyed_layers(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "workers.csv"
    path.write_text("worker_id,name,role\nw1,张三,full_time\nw2,李四,part_time\n", encoding="utf-8")
    import_layer(store, settings, "workers", path)
    err = rejected(store, settings, "workers", path)
    assert "[duplicate_code] feature 1: worker_id w1 already exists in the store" in err.message
    assert [d["codes"] for d in err.details] == [["w1"], ["w2"]]
    twice = tmp_path / "twice.csv"
    twice.write_text("worker_id,name,role\nw3,王五,full_time\nw3,赵六,full_time\n", encoding="utf-8")
    err = rejected(store, settings, "workers", twice)
    assert (
        "[duplicate_code] feature 1, feature 2: worker_id w3 is used 2 times: feature 1 (王五), feature 2 (赵六)"
        in (err.message)
    )
