"""Cell specs, builders and point assignment, on hand-made squares with known answers."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely

from gridmap.analysis.cells import (
    MAX_CELLS,
    CellSpec,
    cell_spec_from_text,
    cells_from_communities,
    cells_from_grids,
    h3_cells_from_area,
    households_from_buildings,
    square_cells_from_area,
    study_area_from_points,
)
from gridmap.analysis.weights import neighbour_counts, weights_from_cells
from gridmap.errors import ValidationError
from tests.analysis import sample


@pytest.mark.parametrize(("text", "spec"), [
    ("grids", CellSpec("grids")), ("communities", CellSpec("communities")), ("H3:9", CellSpec("h3", h3_resolution=9)),
    ("square:250", CellSpec("square", size_m=250.0)), (" square : 75.5 ", CellSpec("square", size_m=75.5)),
])
def test_cell_specs_parse(text: str, spec: CellSpec):
    assert cell_spec_from_text(text) == spec
    assert cell_spec_from_text(str(spec)) == spec


@pytest.mark.parametrize("text", ["", "hex:8", "h3", "h3:16", "h3:8.5", "square", "square:5", "square:abc", "grids:3"])
def test_unknown_cell_specs_are_validation_errors(text: str):
    with pytest.raises(ValidationError, match="cell spec") as err:
        cell_spec_from_text(text)
    assert "square:METRES" in err.value.message or "H3" in err.value.message or "square side" in err.value.message


def test_square_cells_are_aligned_and_points_land_in_the_square_that_contains_them():
    area = shapely.box(*sample.lonlat([sample.square_m(0, 0, 100.0, width=10, height=6)])[0].bounds)
    cells = square_cells_from_area(area, 100.0)
    assert cells.working_crs.to_epsg() == sample.WORKING_EPSG
    metric = cells.frame.to_crs(sample.WORKING_EPSG)
    np.testing.assert_allclose(metric.area, 100.0 * 100.0, rtol=1e-9)
    assert (np.mod(metric.bounds["minx"], 100.0).round(6) % 100.0 == 0).all()
    rng = np.random.default_rng(0)
    points = gpd.GeoSeries(sample.points_in([sample.square_m(0, 0, 100.0, width=10, height=6)], [500], rng), crs=4326)
    idx = cells.index_of_points(points)
    assert (idx >= 0).all()
    inside = shapely.contains(cells.frame.geometry.to_numpy()[idx], points.to_numpy())
    # points within ~1e-9 degrees of an edge may fall on either side of the reprojected edge
    assert inside.mean() > 0.99
    w = weights_from_cells(cells)
    assert neighbour_counts(w).max() == 8 and neighbour_counts(w).min() == 3


def test_h3_cells_cover_the_area_and_hold_their_points():
    area = shapely.box(114.28, 35.70, 114.30, 35.72)
    rng = np.random.default_rng(1)
    points = gpd.GeoSeries.from_xy(rng.uniform(114.28, 114.30, 200), rng.uniform(35.70, 35.72, 200), crs=4326)
    cells = h3_cells_from_area(area, 9, points=points)
    ids = cells.ids
    assert ids == sorted(ids) and all(h3.get_resolution(c) == 9 for c in ids)
    idx = cells.index_of_points(points)
    assert (idx >= 0).all()
    expected = [h3.latlng_to_cell(y, x, 9) for x, y in zip(points.x, points.y, strict=True)]
    assert [ids[i] for i in idx] == expected
    assert neighbour_counts(weights_from_cells(cells)).min() == 6


def test_too_many_cells_are_refused():
    huge = shapely.box(110.0, 30.0, 118.0, 38.0)
    with pytest.raises(ValidationError, match=f"more than {MAX_CELLS:,}"):
        square_cells_from_area(huge, 10.0)


def test_grid_and_community_cells_keep_households_and_drop_overlays():
    grids = sample.lattice_grids(2, 300.0, households=[100, 200, 300, 400])
    overlay = grids.iloc[[0]].assign(code="410611001001901", kind="professional")
    cells = cells_from_grids(gpd.GeoDataFrame(
        gpd.pd.concat([grids, overlay], ignore_index=True), geometry="geometry", crs=4326))
    assert cells.ids == list(grids["code"])
    np.testing.assert_array_equal(cells.frame["households"], [100, 200, 300, 400])
    communities = grids.assign(level="community")
    assert len(cells_from_communities(communities)) == 4
    with pytest.raises(ValidationError, match="appear more than once"):
        cells_from_grids(gpd.GeoDataFrame(gpd.pd.concat([grids, grids]), geometry="geometry", crs=4326))


def test_households_from_buildings_sum_by_representative_point():
    grids = sample.lattice_grids(2, 300.0)
    cells = cells_from_grids(grids)
    # 100 m buildings: two in grid 1 (0-300 m), one east of every grid, one with no count in grid 4 (300-600 m)
    b_m = [sample.square_m(0.1, 0.1, 100.0), sample.square_m(0.5, 0.5, 100.0), sample.square_m(7, 0.2, 100.0),
           sample.square_m(4, 4, 100.0)]
    buildings = gpd.GeoDataFrame({"households": [10, 20, 99, None]}, geometry=sample.lonlat(b_m), crs=4326)
    hh = households_from_buildings(cells, buildings)
    np.testing.assert_array_equal(hh[:3], [30.0, 0.0, 0.0])  # the third building lies outside every grid
    assert np.isnan(hh[3])  # only a building with an unknown count: unknown, not zero


def test_study_area_needs_a_location():
    with pytest.raises(ValidationError, match="no incident has a location"):
        study_area_from_points(gpd.GeoSeries([None], crs=4326))
