"""Hand-made inputs for the analysis tests: squares in a metric CRS with known areas, planted clusters.

Geometry is drawn in EPSG:4547 (CGCS2000 3-degree Gauss-Krüger, CM 114E), the working CRS that
``working_crs_for`` picks for this place, then stored as lon/lat like every layer of a store, so
areas measured by the code can be compared with the areas drawn here.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

WORKING_EPSG = 4547
#: South-west corner of the test area in EPSG:4547, metres (near 114.3E, 35.7N: the demo district).
X0, Y0 = 527_000.0, 3_950_000.0
COMMUNITY = "410611001001"


def lonlat(geoms: Sequence[shapely.Geometry]) -> np.ndarray:
    """Metric (EPSG:4547) geometries as lon/lat."""
    return gpd.GeoSeries(list(geoms), crs=WORKING_EPSG).to_crs(4326).to_numpy()


def square_m(col: float, row: float, size_m: float, *, width: float = 1.0, height: float = 1.0) -> shapely.Polygon:
    """A rectangle of ``width`` x ``height`` squares of ``size_m`` at lattice position (col, row)."""
    x, y = X0 + col * size_m, Y0 + row * size_m
    return shapely.box(x, y, x + width * size_m, y + height * size_m)


def lattice_grids(n: int, size_m: float, *, community: str = COMMUNITY, households: Sequence[float] | None = None,
                  ) -> gpd.GeoDataFrame:
    """n x n square grids (codes community+001..), households 400 each unless given."""
    geoms, codes = [], []
    for row in range(n):
        for col in range(n):
            geoms.append(square_m(col, row, size_m))
            codes.append(f"{community}{len(codes) + 1:03d}")
    hh = list(households) if households is not None else [400.0] * len(codes)
    return gpd.GeoDataFrame(
        {"code": codes, "name": [f"网格{i + 1}" for i in range(len(codes))], "kind": "base",
         "community_code": community, "households": hh},
        geometry=lonlat(geoms), crs=4326,
    )


def points_in(geoms_m: Sequence[shapely.Geometry], counts: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """``counts[i]`` random points inside metric rectangle ``geoms_m[i]``, as lon/lat points."""
    out = []
    for geom, k in zip(geoms_m, counts, strict=True):
        minx, miny, maxx, maxy = geom.bounds
        xs = rng.uniform(minx + 1e-3, maxx - 1e-3, k)
        ys = rng.uniform(miny + 1e-3, maxy - 1e-3, k)
        out.extend(shapely.points(xs, ys))
    return lonlat(out)


def incidents_frame(points: np.ndarray, **columns: Sequence[object]) -> gpd.GeoDataFrame:
    """Incidents at ``points`` with ids EV000001...; extra columns as given."""
    data = {"incident_id": [f"EV{i + 1:06d}" for i in range(len(points))], **{k: list(v) for k, v in columns.items()}}
    return gpd.GeoDataFrame(pd.DataFrame(data), geometry=list(points), crs=4326)
