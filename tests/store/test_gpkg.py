"""GeoPackageStore specifics: the file is a real GeoPackage (GDAL reads it), R-tree, URLs, SRS, locking."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from gridmap.config import Settings
from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.schema import AREAS, BUILDINGS, GEOMETRY, LAYERS, SERVICE_CENTRES
from gridmap.store import gpkg as gpkg_module
from gridmap.store.factory import open_store
from gridmap.store.gpkg import GeoPackageDialect, GeoPackageStore, path_from_url
from gridmap.store.gpkg_binary import geometries_from_gpkg_blobs, gpkg_blobs_from_geometries
from gridmap.store.gpkg_metadata import declared_type_for
from gridmap.store.sql_core import where_sql
from tests.store.samples import sample_frame, sample_geoframe

OGR_NAMES = {"MULTIPOLYGON": "Multi Polygon", "LINESTRING": "Line String", "POINT": "Point", "POLYGON": "Polygon",
             "GEOMETRY": "Unknown (any)", "MULTILINESTRING": "Multi Line String"}


@pytest.fixture
def filled(tmp_path: Path) -> GeoPackageStore:
    store = open_store(f"gpkg://{tmp_path / 'filled.gpkg'}", Settings())
    assert isinstance(store, GeoPackageStore)
    with store.transaction() as tx:
        for layer in (AREAS, BUILDINGS, SERVICE_CENTRES):
            tx.insert(layer, sample_frame(LAYERS[layer], 30, seed=3))
    return store


def _sqlite(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_geopackage_metadata(filled: GeoPackageStore) -> None:
    conn = _sqlite(filled.path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10300
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    srs = {r[0] for r in conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")}
    assert {-1, 0, 4326, 4490} <= srs
    contents = {r[0]: r[1:] for r in conn.execute(
        "SELECT table_name, data_type, srs_id, min_x, min_y, max_x, max_y FROM gpkg_contents")}
    for name, spec in LAYERS.items():
        assert contents[name][0] == ("features" if spec.geometry_type else "attributes"), name
    geoms = filled.read(BUILDINGS).geometry
    x0, y0, x1, y1 = geoms.total_bounds
    _kind, srs_id, *extent = contents[BUILDINGS]
    assert srs_id == 4326
    # the extent comes from the R-tree (float32 rounded outward): it contains the data, within ~1 m
    assert extent[0] <= x0 and extent[1] <= y0 and extent[2] >= x1 and extent[3] >= y1
    assert np.allclose(extent, [x0, y0, x1, y1], atol=1e-5)
    rtree_rows = conn.execute(f"SELECT count(*) FROM rtree_{BUILDINGS}_geometry").fetchone()[0]
    assert rtree_rows == int((~geoms.isna() & ~geoms.is_empty).sum())
    extensions = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_extensions WHERE extension_name = ?",
                                             ["gpkg_rtree_index"])}
    assert extensions == {n for n, s in LAYERS.items() if s.geometry_type}


def test_bbox_read_goes_through_the_rtree(filled: GeoPackageStore) -> None:
    conn = _sqlite(filled.path)
    where, params = where_sql(GeoPackageDialect(4326), LAYERS[BUILDINGS], [], (114.0, 35.0, 115.0, 36.0))
    plan = " ".join(str(r) for r in conn.execute(f'EXPLAIN QUERY PLAN SELECT fid FROM "buildings"{where}', params))
    assert f"rtree_{BUILDINGS}_geometry" in plan and "VIRTUAL TABLE INDEX" in plan


def declared_by_content(store: GeoPackageStore, name: str) -> str:
    """What a free-typed (GEOMETRY) layer should be declared as, from the shapely types it holds."""
    spec = LAYERS[name]
    if spec.geometry_type != "GEOMETRY":
        return str(spec.geometry_type)
    geoms = [g for g in store.read(name).geometry if g is not None and not g.is_empty]
    return declared_type_for({int(shapely.get_type_id(g)) + 1 for g in geoms}) if geoms else "MULTIPOLYGON"


def test_gdal_reads_every_layer(filled: GeoPackageStore) -> None:
    layers = {name: kind for name, kind in pyogrio.list_layers(filled.path)}
    assert set(layers) == set(LAYERS) | {"layer_styles"} and layers["layer_styles"] is None
    assert declared_by_content(filled, BUILDINGS) == "GEOMETRY"  # the sample mixes points and polygons
    for name, spec in LAYERS.items():
        expected = None if spec.geometry_type is None else {
            "GEOMETRY": "Unknown", "MULTIPOLYGON": "MultiPolygon", "POINT": "Point", "LINESTRING": "LineString",
            "MULTILINESTRING": "MultiLineString", "POLYGON": "Polygon"}[declared_by_content(filled, name)]
        assert layers[name] == expected, name
    ours = filled.read(BUILDINGS)
    gdal = pyogrio.read_dataframe(filled.path, layer=BUILDINGS, fid_as_index=True)
    assert gdal.index.tolist() == ours["fid"].tolist()
    assert gdal["name"].fillna("<null>").tolist() == ours["name"].fillna("<null>").tolist()
    assert gdal["floors"].fillna(-1).astype(int).tolist() == ours["floors"].fillna(-1).astype(int).tolist()
    for a, b in zip(gdal.geometry, ours.geometry, strict=True):
        assert (a is None and b is None) or shapely.equals_exact(a, b, tolerance=0)
    assert gdal.crs.to_epsg() == 4326


def _ogrinfo() -> str:
    found = shutil.which("ogrinfo")
    if found is None and os.environ.get("CI", "").lower() not in {"1", "true", "yes"}:
        pytest.skip("ogrinfo (gdal-bin) is not installed; run `make sysdeps`")
    assert found is not None, "ogrinfo is required when CI=true"
    return found


def test_ogrinfo_lists_every_layer_with_geometry_type_and_srs(filled: GeoPackageStore) -> None:
    ogrinfo = _ogrinfo()
    for name, spec in LAYERS.items():
        out = subprocess.run([ogrinfo, "-so", "-ro", str(filled.path), name], capture_output=True, text=True,
                             check=True, timeout=60).stdout
        assert f"Layer name: {name}" in out
        if spec.geometry_type is None:
            assert "Geometry: None" in out, name
            continue
        assert f"Geometry: {OGR_NAMES[declared_by_content(filled, name)]}" in out, (name, out[:300])
        assert 'ID["EPSG",4326]' in out, name
        assert "Geometry Column = geometry" in out and "FID Column = fid" in out


def test_blobs_written_by_gdal_decode_and_ours_encode_empties(tmp_path: Path) -> None:
    geoms = [shapely.box(1, 2, 3, 4), shapely.Point(5, 6), shapely.LineString([(0, 0), (1, 1)]),
             shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])]
    path = tmp_path / "gdal.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"i": range(4)}, geometry=geoms, crs=4326), path, layer="l")
    blobs = [r[0] for r in _sqlite(path).execute("SELECT geom FROM l ORDER BY fid")]
    assert all(shapely.equals_exact(a, b, tolerance=0) for a, b in zip(geometries_from_gpkg_blobs(blobs), geoms,
                                                                       strict=True))
    ours = gpkg_blobs_from_geometries(np.array([shapely.Polygon(), None, geoms[0]], dtype=object), srs_id=4490)
    assert ours[1] is None and ours[0] is not None and ours[2] is not None
    assert ours[0][:4] == b"GP\x00\x11" and ours[2][:4] == b"GP\x00\x03"  # empty flag / XY envelope, little endian
    assert int.from_bytes(ours[2][4:8], "little") == 4490
    back = geometries_from_gpkg_blobs(ours)
    assert back[0].is_empty and back[1] is None and shapely.equals_exact(back[2], geoms[0], tolerance=0)
    with pytest.raises(ValidationError, match="GP"):
        geometries_from_gpkg_blobs([b"XX\x00\x01" + bytes(8)])


def test_urls_relative_and_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert path_from_url("gpkg:///srv/data/x.gpkg") == Path("/srv/data/x.gpkg")
    assert path_from_url("gpkg://data/x.gpkg") == Path("data/x.gpkg")
    for bad in ("gpkg://", "gpkg:///tmp/dir/", "sqlite:///x.gpkg"):
        with pytest.raises(ValidationError, match="GeoPackage URL"):
            path_from_url(bad)
    monkeypatch.chdir(tmp_path)
    store = open_store("gpkg://nested/dir/rel.gpkg", Settings())
    assert (tmp_path / "nested/dir/rel.gpkg").is_file() and store.schema_version() >= 2


def test_files_that_are_not_geopackages_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.gpkg"
    text.write_text("hello, not a database " * 100)
    with pytest.raises(ValidationError, match="not a GeoPackage"):
        open_store(f"gpkg://{text}", Settings())
    other = tmp_path / "other.gpkg"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(ValidationError, match="not a GeoPackage"):
        open_store(f"gpkg://{other}", Settings())
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        open_store(f"gpkg://{tmp_path / 'missing.gpkg'}", Settings(), migrate=False).read(AREAS)


def test_gridmap_layers_join_an_existing_gdal_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "qgis.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(1, 1)], crs=4326), path, layer="mine")
    store = open_store(f"gpkg://{path}", Settings())
    assert set(name for name, _ in pyogrio.list_layers(path)) == {"mine", "layer_styles", *LAYERS}
    assert store.count(AREAS) == 0


def test_cgcs2000_storage_and_mismatch(tmp_path: Path) -> None:
    url = f"gpkg://{tmp_path / 'cgcs.gpkg'}"
    store = open_store(url, Settings(storage_epsg=4490))
    assert isinstance(store, GeoPackageStore)
    with store.transaction() as tx:
        tx.insert(AREAS, sample_geoframe(LAYERS[AREAS], 3).set_crs(4490, allow_override=True))
    assert store.read(AREAS).crs.to_epsg() == 4490
    assert pyogrio.read_info(store.path, layer=AREAS)["crs"] == "EPSG:4490"
    with pytest.raises(ValidationError, match=r"EPSG:4490 but settings\.storage_epsg is 4326"):
        open_store(url, Settings())


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    store = open_store(f"gpkg://{tmp_path / 'new.gpkg'}", Settings())
    assert isinstance(store, GeoPackageStore)
    conn = _sqlite(store.path)
    conn.execute("INSERT INTO gridmap_migrations VALUES (999, 'future', '2030-01-01T00:00:00.000Z')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreUnavailableError, match="newer than this gridmap"):
        store.migrate()


def test_a_second_writer_waits_then_gets_store_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpkg_module, "BUSY_TIMEOUT_S", 0.05)
    store = open_store(f"gpkg://{tmp_path / 'locked.gpkg'}", Settings())
    with store.transaction() as tx:
        tx.insert(AREAS, sample_frame(LAYERS[AREAS], 2))
        with pytest.raises(StoreUnavailableError, match="busy"), store.transaction():
            pass
        assert store.count(AREAS) == 0  # WAL: readers go on, and do not see the open transaction
    assert store.count(AREAS) == 2
    assert store.read(AREAS, columns=[GEOMETRY]).geometry.notna().sum() >= 1


def test_point_blobs_decode_alike_on_the_array_path_and_the_wkb_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    points = shapely.points(rng.uniform([113.0, 34.0], [115.0, 36.0], (1_000, 2)))
    blobs = gpkg_blobs_from_geometries(points, srs_id=4326)
    uniform = geometries_from_gpkg_blobs(blobs)  # every blob the same layout: read as one array
    assert shapely.equals_exact(uniform, points, tolerance=0).all()
    big_endian = [*blobs[:7], blobs[7][:40] + shapely.to_wkb(points[7], byte_order=0)]  # not the fast layout
    mixed = geometries_from_gpkg_blobs([*big_endian, None])
    assert shapely.equals_exact(mixed[:8], points[:8], tolerance=0).all() and mixed[8] is None
    path = tmp_path / "gdal_points.gpkg"  # GDAL's own point blobs (its header, its envelope choice)
    pyogrio.write_dataframe(gpd.GeoDataFrame({"i": range(50)}, geometry=points[:50], crs=4326), path, layer="p")
    gdal_blobs = [r[0] for r in _sqlite(path).execute("SELECT geom FROM p ORDER BY fid")]
    assert shapely.equals_exact(geometries_from_gpkg_blobs(gdal_blobs), points[:50], tolerance=0).all()
    empty = [*blobs[:3], *gpkg_blobs_from_geometries(np.array([shapely.Point()], dtype=object), srs_id=4326)]
    assert geometries_from_gpkg_blobs(empty)[3].is_empty
