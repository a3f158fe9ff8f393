"""Heat layers: exact points when small, H3 sums within budget when large, weekly frames."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest

from gridmap.analysis.heat import (
    FINEST_RESOLUTION,
    h3_cells,
    heat_layers,
    heat_points_from_arrays,
    heat_points_from_incidents,
    layer_budget,
    parent_cells,
    weekly_heat_frames,
)
from gridmap.errors import ValidationError
from tests.analysis import sample


def test_small_layers_keep_every_point_rounded():
    lat = np.array([35.7123456789, 35.72])
    lon = np.array([114.3123456789, 114.31])
    heat = heat_points_from_arrays(lat, lon, np.array([1.0, 2.5]))
    assert not heat.aggregated and heat.incidents == 2
    np.testing.assert_array_equal(heat.data, [[35.71235, 114.31235, 1.0], [35.72, 114.31, 2.5]])


def test_large_layers_are_summed_into_h3_cells_within_the_budget():
    rng = np.random.default_rng(0)
    n = 30_000
    lat, lon = rng.normal(35.74, 0.02, n), rng.normal(114.30, 0.02, n)
    weight = rng.integers(1, 4, n).astype(float)
    heat = heat_points_from_arrays(lat, lon, weight, max_points=2_000)
    assert heat.aggregated and heat.resolution is not None
    assert len(heat.data) <= 2_000
    assert heat.data[:, 2].sum() == pytest.approx(weight.sum())  # nothing lost, only merged
    finer = pd.Series([h3.latlng_to_cell(a, b, heat.resolution + 1) for a, b in zip(lat, lon, strict=True)])
    assert finer.nunique() > 2_000  # the finest resolution that fits was chosen
    cell = h3.latlng_to_cell(lat[0], lon[0], heat.resolution)
    centre = np.round(h3.cell_to_latlng(cell), 5)
    assert ((heat.data[:, 0] == centre[0]) & (heat.data[:, 1] == centre[1])).any()


def test_category_layers_share_the_budget():
    rng = np.random.default_rng(1)
    n = 9_000
    lat, lon = rng.normal(35.74, 0.01, n), rng.normal(114.30, 0.01, n)
    incidents = gpd.GeoDataFrame(
        {"incident_id": [f"E{i}" for i in range(n)], "category": rng.choice(["环境卫生", "安全隐患", "消防"], n)},
        geometry=gpd.points_from_xy(lon, lat), crs=4326,
    )
    layers = heat_layers(incidents, budget=8_000)
    per = layer_budget(4, budget=8_000)
    assert set(layers.categories) == {"环境卫生", "安全隐患", "消防"}
    assert len(layers.all.data) <= per and layers.all.incidents == n
    assert sum(p.incidents for p in layers.categories.values()) == n
    assert layers.points <= 8_000
    only = heat_layers(incidents, categories=["消防"])
    assert list(only.categories) == ["消防"]


def test_weekly_frames_cover_every_week_including_empty_ones():
    geoms = [sample.square_m(0, 0, 500.0)]
    rng = np.random.default_rng(2)
    points = sample.points_in(geoms * 3, [5, 0, 7], rng)
    times = [pd.Timestamp("2024-01-02", tz="UTC")] * 5 + [pd.Timestamp("2024-01-24", tz="UTC")] * 7
    incidents = sample.incidents_frame(points, reported_at=times)
    frames = weekly_heat_frames(incidents)
    assert frames.labels == ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]  # Mondays
    assert [f.incidents for f in frames.frames] == [5, 0, 0, 7]
    assert [f.data[:, 2].sum() if len(f.data) else 0 for f in frames.frames] == [5, 0, 0, 7]
    assert {f.resolution for f in frames.frames} == {10}  # one cell size for every week: one colour scale
    cells = [{h3.latlng_to_cell(p.y, p.x, 10) for p in week} for week in (points[:5], points[5:])]
    assert frames.points == len(cells[0]) + len(cells[1])


def test_heat_input_is_checked():
    incidents = sample.incidents_frame(sample.points_in([sample.square_m(0, 0, 100.0)], [2], np.random.default_rng(0)))
    incidents.loc[0, "geometry"] = None
    with pytest.raises(ValidationError, match="no location"):
        heat_points_from_incidents(incidents)


@pytest.mark.parametrize("resolution", [0, 5, 9, 10])
def test_parent_cells_match_h3_for_every_coarser_resolution(resolution):
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(-80, 80, 500), rng.uniform(-179, 179, 500)
    cells = h3_cells(lat, lon, FINEST_RESOLUTION)
    parents = parent_cells(cells, resolution)
    expected = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), resolution)) for c in cells]
    assert parents.tolist() == expected
    assert all(h3.get_resolution(h3.int_to_str(int(p))) == resolution for p in parents[:20])


def test_h3_cells_are_the_cells_of_h3_latlng_to_cell():
    rng = np.random.default_rng(8)
    lat, lon = rng.normal(35.74, 0.05, 300), rng.normal(114.30, 0.05, 300)
    cells = h3_cells(lat, lon, 10)
    assert cells.dtype == np.uint64
    expected = [h3.latlng_to_cell(a, b, 10) for a, b in zip(lat, lon, strict=True)]
    assert [h3.int_to_str(int(c)) for c in cells] == expected


def test_h3_cells_refuse_unpaired_coordinates():
    with pytest.raises(ValidationError, match="3 latitudes but 2 longitudes"):
        h3_cells(np.zeros(3), np.zeros(2), 9)
