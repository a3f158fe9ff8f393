"""``gridmap hotspots|coverage|stats`` end to end: files in, GeoJSON/CSV out, clear errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.store.factory import open_store
from tests.analysis import sample
from tests.analysis import store_sample as ss


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def planted_files(tmp_path: Path) -> dict[str, Path]:
    """A 6 x 6 lattice of 200 m grids (GeoJSON) and incidents (CSV with lon/lat): a cluster around grid 15.

    Grid 15 (row 2, column 2) holds 60 and its 8 neighbours 30 each, the rest ~4. (A lone busy grid among quiet
    neighbours is not a Gi* hotspot under conditional permutation: the test asks about the neighbourhood.)
    """
    rng = np.random.default_rng(3)
    grids = sample.lattice_grids(6, 200.0)
    counts = rng.poisson(4, 36)
    rows, cols = np.divmod(np.arange(36), 6)
    counts[(abs(rows - 2) <= 1) & (abs(cols - 2) <= 1)] = 30
    counts[14] = 60
    points = sample.points_in([sample.square_m(c, r, 200.0) for r in range(6) for c in range(6)], counts.tolist(), rng)
    times = pd.date_range("2024-01-01", periods=len(points), freq="6h", tz="UTC")
    csv = pd.DataFrame({"id": range(len(points)), "lon": [p.x for p in points], "lat": [p.y for p in points],
                        "when": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "severity": rng.integers(1, 4, len(points))})
    paths = {"grids": tmp_path / "grids.geojson", "incidents": tmp_path / "incidents.csv"}
    grids.to_file(paths["grids"], driver="GeoJSON")
    csv.to_csv(paths["incidents"], index=False)
    return paths


def test_file_mode_on_grids_writes_geojson_with_bins(planted_files, tmp_path):
    out = tmp_path / "hot.geojson"
    result = run("hotspots", "--incidents", str(planted_files["incidents"]), "--cells", "grids",
                 "--grids", str(planted_files["grids"]), "--permutations", "999", "--seed", "1", "--no-fdr",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "36 cells (grids)" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    props = {f["properties"]["cell_id"]: f["properties"] for f in data["features"]}
    hot = props[f"{sample.COMMUNITY}015"]
    assert hot["incidents"] == 60 and hot["bin"] == 3 and hot["cluster"] == "hot"
    assert data["gridmap"]["seed"] == 1
    assert data["gridmap"]["n_incidents"] == sum(p["incidents"] for p in props.values())
    again = tmp_path / "again.geojson"
    run("hotspots", "--incidents", str(planted_files["incidents"]), "--cells", "grids", "--grids",
        str(planted_files["grids"]), "--permutations", "999", "--seed", "1", "--no-fdr", "--out", str(again))
    assert json.loads(again.read_text())["features"] == data["features"]  # reproducible with the seed


def test_file_mode_h3_weighted_and_time_window(planted_files, tmp_path):
    out = tmp_path / "h3.geojson"
    result = run("hotspots", "--incidents", str(planted_files["incidents"]), "--cells", "h3:9", "--weight", "severity",
                 "--time-column", "when", "--start", "2024-01-05", "--permutations", "99", "--json", "--out", str(out))
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    frame = gpd.read_file(out)
    assert body["summary"]["cells"] == "h3:9" and len(frame) == body["features"]
    csv = pd.read_csv(planted_files["incidents"])
    kept = csv[pd.to_datetime(csv["when"]) >= pd.Timestamp("2024-01-05", tz="UTC")]
    assert frame["value"].sum() == pytest.approx(kept["severity"].sum())
    assert frame["incidents"].sum() == len(kept)


@pytest.mark.parametrize(("args", "message"), [
    (["--cells", "hex:9"], "unknown cell spec 'hex:9'"),
    (["--cells", "grids"], "needs --grids FILE"),
    (["--cells", "h3:9", "--time-column", "id"], "do not parse as a date"),
    (["--cells", "h3:9", "--weight", "nope"], "no weight column 'nope'"),
    (["--cells", "h3:9", "--start", "2030-01-01"], "no time column 'reported_at'"),
    (["--cells", "h3:9", "--time-column", "when", "--start", "2030-01-01"], "no incident left after the filters"),
    (["--cells", "square:5"], "square side must be"),
])
def test_bad_input_exits_2_with_a_clear_message(planted_files, tmp_path, args, message):
    result = CliRunner().invoke(cli, ["hotspots", "--incidents", str(planted_files["incidents"]), *args,
                                      "--out", str(tmp_path / "x.geojson")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_all_zero_counts_are_a_validation_error(tmp_path):
    far = sample.lonlat([sample.square_m(100, 100, 10.0).centroid])
    pd.DataFrame({"lon": [far[0].x], "lat": [far[0].y]}).to_csv(tmp_path / "far.csv", index=False)
    sample.lattice_grids(3, 200.0).to_file(tmp_path / "g.geojson", driver="GeoJSON")
    result = CliRunner().invoke(cli, ["hotspots", "--incidents", str(tmp_path / "far.csv"), "--cells", "grids",
                                      "--grids", str(tmp_path / "g.geojson"), "--out", str(tmp_path / "x.geojson")])
    assert result.exit_code == 2 and "all counts are zero" in result.output


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"gpkg://{tmp_path / 'district.gpkg'}"
    store = open_store(url, Settings(store_url=url))
    ss.populate(store)
    store.close()
    return url


def test_store_mode_hotspots_emerging_coverage_stats(store_url, tmp_path):
    out = tmp_path / "s.geojson"
    result = run("hotspots", "--store", store_url, "--cells", "square:300", "--permutations", "0", "--out", str(out))
    assert result.exit_code == 0, result.output
    features = json.loads(out.read_text())["features"]
    # squares are aligned to multiples of 300 m in EPSG:4547; the district starts 200 m past such a line in x and
    # y, so its 1200 x 600 m meet 5 x 3 squares
    assert len(features) == 15
    assert sum(f["properties"]["incidents"] for f in features) == ss.COUNTED_INCIDENTS
    result = CliRunner().invoke(cli, ["hotspots", "--store", store_url, "--cells", "communities", "--out", str(out)])
    assert result.exit_code == 2 and "needs at least 3" in result.output
    result = run("hotspots", "--store", store_url, "--cells", "grids", "--emerging", "--out", str(out))
    assert result.exit_code == 0 and "categories:" in result.output
    result = run("coverage", "--store", store_url, "--distance", "700", "--json")
    body = json.loads(result.output)
    assert body["access"]["share_within"] == pytest.approx(1500 / 2800)
    assert len(body["grids_without_worker"]) == 5
    base = tmp_path / "bases.csv"  # a worker base at the road's far (north-east) end instead of the centre
    far = sample.lonlat([sample.square_m(1200, 600, 1.0).centroid])[0]
    pd.DataFrame({"name": ["网格工作站"], "lon": [far.x], "lat": [far.y]}).to_csv(base, index=False)
    result = run("coverage", "--store", store_url, "--distance", "700", "--method", "line", "--facilities", str(base),
                 "--json")
    assert json.loads(result.output)["access"]["households_within"] == 600 + 700  # grids 6 and 7 lie near it
    csv = tmp_path / "stats.csv"
    result = run("stats", "--store", store_url, "--level", "grid", "--area", ss.C1, "--out", str(csv))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(csv, dtype={"code": str}, encoding="utf-8-sig")
    assert list(table["code"]) == [g[0] for g in ss.GRID_CELLS if g[1] == ss.C1]
    assert table["households"].sum() == sum(ss.HOUSEHOLDS[:4])
    assert "total: buildings 4" in result.output
