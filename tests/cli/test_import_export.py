"""``gridmap import`` / ``gridmap export`` through click, against both stores."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner, Result

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.store.base import Store

DATA = Path(__file__).parents[1] / "data"
BOWTIE = shapely.MultiPolygon([shapely.Polygon([(114.3, 35.7), (114.4, 35.8), (114.4, 35.7), (114.3, 35.8)])])


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def counts(store: Store) -> dict[str, int]:
    return {name: store.count(name) for name in schema.LAYERS}


def load(store: Store, *layers: str) -> None:
    for layer in layers:
        result = run("import", layer, str(DATA / f"hebi_{layer}.geojson"), "--store", store.url)
        assert result.exit_code == 0, result.output


def test_import_text_and_json(store: Store) -> None:
    result = run("import", "districts", str(DATA / "hebi_districts.geojson"), "--store", store.url)
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "Imported 1 districts feature(s) from hebi_districts.geojson (1 read, CRS EPSG:4326)"
    )
    result = run("import", "streets", str(DATA / "hebi_streets.geojson"), "--store", store.url, "--json")
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["ok"] is True and body["report"]["features_written"] == 2 and body["report"]["target"] == "areas"
    assert store.count(schema.AREAS, where={"level": "street"}) == 2


def test_errors_exit_non_zero_and_write_nothing(store: Store, tmp_path: Path) -> None:
    load(store, "districts")
    frame = gpd.read_file(DATA / "hebi_streets.geojson")
    frame["geometry"] = [BOWTIE, BOWTIE]
    bad = tmp_path / "bad.geojson"
    pyogrio.write_dataframe(frame, bad)
    before = counts(store)
    result = run("import", "streets", str(bad), "--store", store.url)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {bad}: 2 problem(s) in 2 feature(s) stop the streets import")
    assert "[invalid_geometry] feature 2 (code 410611002, name 东城街道): Self-intersection" in result.stderr
    result = run("import", "streets", str(bad), "--store", store.url, "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "invalid_features" and [d["row"] for d in error["details"]] == [0, 1]
    assert counts(store) == before
    result = run("import", "streets", str(bad), "--store", store.url, "--fix")
    assert result.exit_code == 0
    assert "2 geometry(ies) repaired with --fix" in result.stdout
    assert "  repaired feature 1 (code 410611001, name 西城街道): Self-intersection" in result.stdout


def test_map_option(store: Store, tmp_path: Path) -> None:
    load(store, "districts")
    renamed = gpd.read_file(DATA / "hebi_streets.geojson").rename(columns={"code": "BH", "name": "MINGCHENG"})
    path = tmp_path / "jd.gpkg"
    pyogrio.write_dataframe(renamed, path)
    result = run("import", "streets", str(path), "--store", store.url)
    assert result.exit_code == 2 and "--map code=COLUMN --map name=COLUMN" in result.stderr
    result = run("import", "streets", str(path), "--store", store.url, "--map", "code=BH", "--map", "name=MINGCHENG")
    assert result.exit_code == 0, result.output
    result = run("import", "streets", str(path), "--store", store.url, "--map", "code")
    assert result.exit_code == 2 and "--map 'code': expected FIELD=COLUMN" in result.stderr


def test_unknown_layer_and_crs(store: Store) -> None:
    result = run("import", "rivers", str(DATA / "hebi_streets.geojson"), "--store", store.url)
    assert (
        result.exit_code == 2 and "cannot import layer 'rivers'; importable layers: districts, streets" in result.stderr
    )
    result = run("import", "districts", str(DATA / "hebi_districts.geojson"), "--store", store.url, "--crs", "xyz")
    assert result.exit_code == 2 and "--crs xyz: unknown CRS 'xyz'" in result.stderr
    assert store.count(schema.AREAS) == 0


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv"])
def test_export_then_import_elsewhere(store: Store, tmp_path: Path, fmt: str) -> None:
    load(store, "districts", "streets", "communities")
    out = tmp_path / f"communities.{fmt}"
    result = run("export", "communities", "--format", fmt, "--out", str(out), "--store", store.url)
    assert result.exit_code == 0 and result.stdout.startswith(f"Exported 4 row(s) of communities to {out}")
    target = f"gpkg://{tmp_path / 'copy.gpkg'}"
    for layer in ("districts", "streets"):
        assert run("import", layer, str(DATA / f"hebi_{layer}.geojson"), "--store", target).exit_code == 0
    result = run("import", "communities", str(out), "--store", target, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"]["features_written"] == 4


def test_export_format_from_suffix_and_errors(store: Store, tmp_path: Path) -> None:
    load(store, "districts")
    result = run("export", "districts", "--out", str(tmp_path / "d.json"), "--store", store.url, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["report"]["format"] == "geojson"
    result = run("export", "districts", "--out", str(tmp_path / "d.kml"), "--store", store.url)
    assert result.exit_code == 2 and "cannot tell the format from the name" in result.stderr
    result = run("export", "workers", "--format", "shp", "--out", str(tmp_path / "w.shp"), "--store", store.url)
    assert result.exit_code == 2 and "has no geometry; export it as csv or gpkg" in result.stderr
