"""The GeoPackage store as GDAL and QGIS see it (issue 12 item 4), checked with the tools themselves.

A small demo district is built with the ``gridmap demo`` command into a fresh file; then Debian's
``ogrinfo -so -al`` must report a specific geometry type and a declared EPSG:4326 SRS for every
feature layer, with the feature counts the store reports; the gpkg_schema extension must carry a
Chinese title for every column; and QGIS (Debian's python3-qgis, headless, in its own process)
must open grids graduated by households with Chinese aliases, incidents categorised by status
and buildings graduated by households, from the default styles in ``layer_styles``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.store.column_titles import column_title
from gridmap.store.factory import open_store
from gridmap.store.gpkg_metadata import declared_type_for

SYSTEM_PYTHON = "/usr/bin/python3"
#: ogrinfo's names of the declared types.
OGR_NAMES = {"MULTIPOLYGON": "Multi Polygon", "POLYGON": "Polygon", "LINESTRING": "Line String", "POINT": "Point"}


@pytest.fixture(scope="module")
def demo_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gis") / "demo.gpkg"
    result = CliRunner().invoke(cli, ["demo", "--store", f"gpkg://{path}", "--no-serve", "--scale", "0.1"])
    assert result.exit_code == 0, result.output
    return path


def ogrinfo_layers(path: Path) -> dict[str, dict[str, str]]:
    """Layer name -> {'type', 'count', 'srs'} from ``ogrinfo -so -al``."""
    out = subprocess.run(["ogrinfo", "-so", "-al", "-ro", str(path)], capture_output=True, text=True, check=True).stdout
    layers: dict[str, dict[str, str]] = {}
    for block in out.split("\nLayer name: ")[1:]:
        name = block.split("\n", 1)[0].strip()
        info = {"type": re.search(r"^Geometry: (.+)$", block, re.M),
                "count": re.search(r"^Feature Count: (\d+)$", block, re.M),
                "srs": re.search(r'^\s+ID\["EPSG",(\d+)\]\]\s*$', block, re.M)}
        layers[name] = {k: (m.group(1) if m else "") for k, m in info.items()}
    return layers


def test_ogrinfo_sees_specific_types_declared_srs_and_counts(demo_gpkg: Path) -> None:
    store = open_store(f"gpkg://{demo_gpkg}", Settings())
    layers = ogrinfo_layers(demo_gpkg)
    for name, spec in schema.LAYERS.items():
        assert int(layers[name]["count"]) == store.count(name), name
        if spec.geometry_type is None:
            assert layers[name]["type"] == "None"
            continue
        assert layers[name]["type"] not in ("Unknown (any)", ""), f"{name}: {layers[name]['type']}"
        assert layers[name]["srs"] == "4326", name
    assert layers["grids"]["type"] == "Multi Polygon" and layers["incidents"]["type"] == "Point"
    assert layers["buildings"]["type"] == "Polygon" and layers["units"]["type"] == "Polygon"  # demo: footprints only
    assert int(layers["grids"]["count"]) > 0 and int(layers["buildings"]["count"]) > 500
    assert "layer_styles" in layers  # QGIS's table, listed like any attribute table


def test_every_column_has_a_chinese_title_in_the_schema_extension(demo_gpkg: Path) -> None:
    with sqlite3.connect(demo_gpkg) as conn:
        rows = {(t, c): (n, title) for t, c, n, title in
                conn.execute("SELECT table_name, column_name, name, title FROM gpkg_data_columns")}  # fmt: skip
        ext = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_extensions WHERE extension_name='gpkg_schema'")}
        identifier = dict(conn.execute("SELECT table_name, identifier FROM gpkg_contents").fetchall())
    assert ext == {"gpkg_data_columns", "gpkg_data_column_constraints"}
    for name, spec in schema.LAYERS.items():
        for column in spec.columns:
            name_, title = rows[(name, column.name)]
            assert name_ == title == column_title(name, column.name)
            assert re.search(r"[\u4e00-\u9fff]", title), (name, column.name, title)
    assert rows[("grids", "households")][1] == "户数" and identifier["grids"] == "网格"


QGIS_PROBE = r"""
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = {}
for name in sys.argv[2:]:
    layer = QgsVectorLayer(sys.argv[1] + "|layername=" + name, name, "ogr")
    renderer = layer.renderer()
    out[name] = {
        "valid": layer.isValid(), "count": layer.featureCount(), "crs": layer.crs().authid(),
        "renderer": renderer.type() if renderer else None,
        "attribute": renderer.classAttribute() if hasattr(renderer, "classAttribute") else None,
        "classes": [[r.lowerValue(), r.upperValue()] for r in renderer.ranges()] if hasattr(renderer, "ranges") else
                   [c.value() for c in renderer.categories()] if hasattr(renderer, "categories") else [],
        "aliases": {f.name(): f.alias() for f in layer.fields()},
        "labels": layer.labelsEnabled(),
    }
print(json.dumps(out))
"""


def qgis_available() -> bool:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return probe.returncode == 0


def test_qgis_opens_the_demo_styled_by_households_with_chinese_aliases(demo_gpkg: Path, tmp_path: Path) -> None:
    if not qgis_available():
        if os.environ.get("CI"):
            pytest.fail("CI is set but python3-qgis is missing: run scripts/install-sysdeps.sh")
        pytest.skip("python3-qgis not installed (scripts/install-sysdeps.sh installs it)")
    store = open_store(f"gpkg://{demo_gpkg}", Settings())
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", QGIS_PROBE, str(demo_gpkg), "grids", "buildings", "incidents", "areas"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    grids = seen["grids"]
    assert grids["valid"] and grids["count"] == store.count(schema.GRIDS) and grids["crs"] == "EPSG:4326"
    assert grids["renderer"] == "graduatedSymbol" and grids["attribute"] == "households" and grids["labels"]
    bounds = [b for pair in grids["classes"] for b in pair]
    assert 300 in bounds and 500 in bounds  # the default household band's edges are class breaks
    households = store.read(schema.GRIDS, columns=["households"])["households"]
    assert all(any(lo <= h <= hi for lo, hi in grids["classes"]) for h in households)  # every grid gets a colour
    assert grids["aliases"]["households"] == "户数" and grids["aliases"]["code"] == "网格编码"
    incidents = seen["incidents"]
    assert incidents["renderer"] == "categorizedSymbol" and incidents["attribute"] == "status"
    statuses = set(store.read(schema.INCIDENTS, columns=["status"])["status"])
    assert statuses <= set(incidents["classes"]) and incidents["aliases"]["category"] == "事件类别"
    assert seen["buildings"]["renderer"] == "graduatedSymbol" and seen["buildings"]["attribute"] == "households"
    assert seen["buildings"]["count"] == store.count(schema.BUILDINGS)
    assert seen["areas"]["aliases"]["name"] == "区划名称"  # alias-only default style for the other layers


def test_a_users_own_default_style_is_kept(demo_gpkg: Path, tmp_path: Path) -> None:
    copy = tmp_path / "mine.gpkg"
    copy.write_bytes(demo_gpkg.read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE layer_styles SET styleName = 'mine', styleQML = '<qgis/>' WHERE f_table_name = 'grids'")
    open_store(f"gpkg://{copy}", Settings()).migrate()  # a later gridmap re-runs the upkeep
    with sqlite3.connect(copy) as conn:
        rows = conn.execute("SELECT styleName, styleQML FROM layer_styles WHERE f_table_name = 'grids'").fetchall()
    assert rows == [("mine", "<qgis/>")]


def test_declared_type_follows_what_the_layer_holds(tmp_path: Path) -> None:
    assert declared_type_for({3}) == "POLYGON" and declared_type_for({3, 6}) == "MULTIPOLYGON"
    assert declared_type_for({1}) == "POINT" and declared_type_for({1, 3}) == "GEOMETRY"
    store = open_store(f"gpkg://{tmp_path / 's.gpkg'}", Settings())
    store.migrate()
    square = shapely.box(114.0, 35.7, 114.001, 35.701)
    two = shapely.MultiPolygon([shapely.box(114.01, 35.7, 114.011, 35.701), shapely.box(114.02, 35.7, 114.021, 35.701)])
    rows = [("b1", square), ("b2", two), ("b3", shapely.Point(114.03, 35.7))]

    def declared() -> str:
        return ogrinfo_layers(tmp_path / "s.gpkg")["buildings"]["type"]

    assert declared() == "Multi Polygon"  # empty: what the layer is for
    with store.transaction() as tx:
        tx.insert(schema.BUILDINGS, gpd.GeoDataFrame({"building_id": ["b1"]}, geometry=[square], crs=4326))
    assert declared() == OGR_NAMES["POLYGON"]
    with store.transaction() as tx:
        tx.insert(schema.BUILDINGS, gpd.GeoDataFrame({"building_id": ["b2"]}, geometry=[two], crs=4326))
    assert declared() == OGR_NAMES["MULTIPOLYGON"]
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-q", str(tmp_path / "s.gpkg"), "buildings"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.count("POLYGON") == 2 and "ERROR" not in out.stderr  # GDAL reads the one-part polygon too
    with store.transaction() as tx:
        tx.insert(schema.BUILDINGS, gpd.GeoDataFrame({"building_id": ["b3"]}, geometry=[rows[2][1]], crs=4326))
    assert declared() == "Unknown (any)"  # a real mix of points and polygons stays GEOMETRY
    with store.transaction() as tx:
        tx.delete(schema.BUILDINGS, {"building_id": ["b1", "b2"]})
    assert declared() == OGR_NAMES["POINT"]
