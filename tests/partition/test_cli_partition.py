"""``gridmap partition`` in file mode: files in, grids + report + escaped preview map out."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner

from gridmap.cli.main import cli

from .towns import COMMUNITY_CODE, make_town


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    town = make_town(per_side=2, households=50)  # 2400 households, feasible for 300..500
    town.buildings = town.buildings.rename(columns={"households": "户数"})
    paths = {k: tmp_path / f"{k}.geojson" for k in ("boundary", "roads", "buildings")}
    town.boundary.to_file(paths["boundary"])
    town.roads.to_file(paths["roads"])
    town.buildings.to_file(paths["buildings"])
    return paths


def invoke(*args: str):
    return CliRunner().invoke(cli, ["partition", *args], catch_exceptions=False)


def base_args(files: dict[str, Path]) -> list[str]:
    return ["--boundary", str(files["boundary"]), "--roads", str(files["roads"]),
            "--buildings", str(files["buildings"]), "--households-column", "户数"]  # fmt: skip


def test_partition_writes_grids_report_and_map(files, tmp_path):
    out, report, html_map = tmp_path / "grids.gpkg", tmp_path / "report.json", tmp_path / "map.html"
    result = invoke(*base_args(files), "--min", "300", "--max", "500", "--out", str(out),
                    "--report", str(report), "--map", str(html_map))  # fmt: skip
    assert result.exit_code == 0, result.output
    grids = gpd.read_file(out, layer="grids")
    assert len(grids) == 6
    assert list(grids["code"]) == [f"{COMMUNITY_CODE}{i:03d}" for i in range(1, 7)]
    assert grids["households"].sum() == 2400
    assert all(300 <= h <= 500 for h in grids["households"])
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["certificate"]["ok"] is True
    assert body["report"]["band"] == {"min": 300, "max": 500, "target": 400}
    page = html_map.read_text(encoding="utf-8")
    assert "黎阳社区第一网格" in page and "https://" not in page.split("<body>")[0]
    assert "6 grids (6 base, 0 dedicated), 2400 households" in result.output


def test_grids_go_to_geojson_with_the_band_preset_and_seed(files, tmp_path):
    out = tmp_path / "grids.geojson"
    result = invoke(*base_args(files), "--band", "urban-hebi", "--seed", "3", "--out", str(out))
    assert result.exit_code in (0, 1), result.output
    grids = gpd.read_file(out)
    assert grids.crs.to_epsg() == 4326
    assert grids["households"].sum() == 2400
    flags = [f if isinstance(f, list) else json.loads(f) for f in grids["flags"]]  # GDAL may parse JSON text
    for h, f in zip(grids["households"], flags, strict=True):
        assert ({x["code"] for x in f} & {"under_min", "over_max"} != set()) == (not 200 <= h <= 500)
    assert "in band 200..500" in result.output


def test_user_strings_are_escaped_in_the_map(files, tmp_path):
    out, html_map = tmp_path / "g.gpkg", tmp_path / "m.html"
    evil = '<script>alert("x")</script>`${1}`'
    result = invoke(*base_args(files), "--name", evil, "--out", str(out), "--map", str(html_map))
    assert result.exit_code in (0, 1), result.output
    page = html_map.read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#96;&#36;{1}&#96;" in page


def test_a_band_below_the_data_exits_1_and_lists_the_grids_out_of_band(files, tmp_path):
    out, report = tmp_path / "g.gpkg", tmp_path / "r.json"
    result = invoke(*base_args(files), "--min", "900", "--max", "1000", "--out", str(out), "--report", str(report))
    assert result.exit_code == 1
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["certificate"]["ok"] is False
    listed = body["report"]["out_of_band"]
    assert listed and all(g["code"] in result.output for g in listed)


def test_bad_input_is_a_one_line_error_with_exit_2(files, tmp_path):
    out = str(tmp_path / "g.gpkg")
    result = CliRunner().invoke(cli, ["partition", *base_args(files)[:-2], "--out", out])
    assert result.exit_code == 2
    assert "no households column 'households'" in result.output and "buildings.geojson" in result.output
    result = CliRunner().invoke(cli, ["partition", *base_args(files), "--min", "500", "--max", "300", "--out", out])
    assert result.exit_code == 2 and "--min (500) is greater than --max (300)" in result.output
    result = CliRunner().invoke(cli, ["partition", *base_args(files), "--out", str(tmp_path / "g.xlsx")])
    assert result.exit_code == 2 and "unknown output type '.xlsx'" in result.output
    assert "Traceback" not in result.output


def test_a_boundary_without_code_or_name_gets_provisional_ones_and_a_warning(tmp_path):
    """A planner's what-if on a boundary drawn in QGIS (issue 12): no code column, no name column."""
    town = make_town(per_side=2, households=50)
    paths = {k: tmp_path / f"{k}.gpkg" for k in ("boundary", "roads", "buildings")}
    town.boundary[["geometry"]].to_file(paths["boundary"])  # only a polygon, as QGIS saves a new layer
    town.roads.to_file(paths["roads"])
    town.buildings.to_file(paths["buildings"])
    out = tmp_path / "grids.geojson"
    result = invoke("--boundary", str(paths["boundary"]), "--roads", str(paths["roads"]), "--buildings",
                    str(paths["buildings"]), "--min", "300", "--max", "500", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "gives no community code" in result.stderr and "--code" in result.stderr
    assert "gives no community name" in result.stderr and "--name" in result.stderr
    grids = gpd.read_file(out)
    assert list(grids["code"]) == [f"{'0' * 12}{i:03d}" for i in range(1, 7)]
    assert set(grids["community_code"]) == {"0" * 12}
    assert grids["name"].iloc[0] == "未命名社区第一网格"
    assert grids["households"].sum() == 2400
    # the real code, given later, replaces the provisional one
    again = invoke("--boundary", str(paths["boundary"]), "--roads", str(paths["roads"]), "--buildings",
                   str(paths["buildings"]), "--min", "300", "--max", "500", "--code", COMMUNITY_CODE,
                   "--name", "黎阳社区", "--out", str(out))  # fmt: skip
    assert again.exit_code == 0 and "warning" not in again.stderr
    assert list(gpd.read_file(out)["code"]) == [f"{COMMUNITY_CODE}{i:03d}" for i in range(1, 7)]
