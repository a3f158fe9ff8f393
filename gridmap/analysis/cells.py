"""The areal units ("cells") that incidents are counted in: grids, communities, H3 hexagons or squares.

Why several kinds: a hotspot test needs a fixed set of areas covering the whole study area,
including the empty ones (leaving out zero-count cells would bias every Gi* score upwards).
Grids and communities are the units people manage, so results land on someone's desk; H3 cells
(``h3:RES``) and squares (``square:METRES``) have equal size, so a count is also a density and
the result does not depend on how boundaries happen to be drawn (the modifiable areal unit problem).

Every builder returns a :class:`Cells`: a GeoDataFrame in EPSG:4326 with ``cell_id``, ``name`` and
``households`` (NaN when unknown), plus the metric working CRS used for squares, centroids and
distances. Points are assigned to cells by :meth:`Cells.index_of_points` (-1 = outside every cell).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import h3
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from gridmap import schema
from gridmap.crs import working_crs_for
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel, GridKind

CellKind = Literal["grids", "communities", "h3", "square"]
CELL_ID, CELL_NAME, CELL_HOUSEHOLDS = "cell_id", "name", "households"
CELL_COLUMNS = (CELL_ID, CELL_NAME, CELL_HOUSEHOLDS)
#: Forms accepted for ``--cells``, for messages.
CELL_SPEC_FORMS = "grids, communities, h3:RES (RES 0-15, e.g. h3:9) or square:METRES (e.g. square:250)"
#: More cells than this is a mistake (a 10 m square grid over a district), not an analysis.
MAX_CELLS = 250_000
#: Smallest and largest square side accepted, metres.
SQUARE_SIZE_RANGE_M = (10.0, 50_000.0)
#: Grid kinds that tile a community; professional and micro grids overlap them and would double-count.
TILING_GRID_KINDS = (GridKind.BASE.value, GridKind.DEDICATED.value)
_SPEC_RE = re.compile(r"^\s*(grids|communities|h3|square)\s*(?::\s*([0-9.]+)\s*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class CellSpec:
    """What ``--cells`` asked for: a kind and, for H3 and squares, a resolution or a side in metres."""

    kind: CellKind
    h3_resolution: int | None = None
    size_m: float | None = None

    @property
    def polygonal(self) -> bool:
        """True for management areas (irregular polygons: queen contiguity), False for lattices."""
        return self.kind in ("grids", "communities")

    def __str__(self) -> str:
        if self.kind == "h3":
            return f"h3:{self.h3_resolution}"
        if self.kind == "square":
            return f"square:{self.size_m:g}"
        return self.kind


def cell_spec_from_text(text: str) -> CellSpec:
    """Parse ``grids``, ``communities``, ``h3:RES`` or ``square:METRES``; anything else is a ValidationError."""
    match = _SPEC_RE.match(text or "")
    if match is None:
        raise ValidationError(f"unknown cell spec {text!r}; use {CELL_SPEC_FORMS}", code="unknown_cell_spec")
    kind, value = match.group(1).lower(), match.group(2)
    if kind in ("grids", "communities"):
        if value is not None:
            raise ValidationError(f"cell spec {text!r}: {kind} takes no number; use {CELL_SPEC_FORMS}")
        return CellSpec("grids" if kind == "grids" else "communities")
    if value is None:
        raise ValidationError(f"cell spec {text!r}: {kind} needs a number after ':'; use {CELL_SPEC_FORMS}")
    if kind == "h3":
        if not value.isdigit() or not 0 <= int(value) <= 15:
            raise ValidationError(f"cell spec {text!r}: the H3 resolution must be a whole number 0-15")
        return CellSpec("h3", h3_resolution=int(value))
    size = float(value)
    lo, hi = SQUARE_SIZE_RANGE_M
    if not lo <= size <= hi:
        raise ValidationError(f"cell spec {text!r}: the square side must be {lo:g}-{hi:g} metres")
    return CellSpec("square", size_m=size)


@dataclass(frozen=True)
class Cells:
    """Cells of one kind covering a study area. ``frame`` is EPSG:4326, one row per cell, in a fixed order."""

    spec: CellSpec
    frame: gpd.GeoDataFrame
    #: Metric CRS (metres) for squares, centroids and neighbour distances.
    working_crs: pyproj.CRS

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def ids(self) -> list[str]:
        return [str(v) for v in self.frame[CELL_ID]]

    def centroids_m(self) -> npt.NDArray[np.float64]:
        """(n, 2) cell centroids in the working CRS, metres."""
        pts = self.frame.geometry.to_crs(self.working_crs).centroid
        return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])

    def index_of_points(self, points: gpd.GeoSeries) -> npt.NDArray[np.int64]:
        """Row of the cell holding each point (lon/lat GeoSeries), -1 where no cell holds it.

        H3 and squares are computed arithmetically (fast, and a point on a shared edge goes to
        exactly one cell); polygons use the spatial index, and a point on the edge of two grids
        goes to the first of them in frame order, so every point is counted once.
        """
        if len(points) == 0:
            return np.zeros(0, dtype=np.int64)
        if self.spec.kind == "h3":
            return self._index_h3(points)
        if self.spec.kind == "square":
            return self._index_square(points)
        point_idx, cell_idx = self.frame.sindex.query(points.to_numpy(), predicate="intersects")
        out = np.full(len(points), -1, dtype=np.int64)
        order = np.lexsort((cell_idx, point_idx))  # first cell per point
        point_idx, cell_idx = point_idx[order], cell_idx[order]
        first = np.r_[True, point_idx[1:] != point_idx[:-1]] if len(point_idx) else np.zeros(0, dtype=bool)
        out[point_idx[first]] = cell_idx[first]
        return out

    def _index_h3(self, points: gpd.GeoSeries) -> npt.NDArray[np.int64]:
        res = self.spec.h3_resolution
        assert res is not None
        lookup = {cid: i for i, cid in enumerate(self.ids)}
        xs, ys = points.x.to_numpy(), points.y.to_numpy()
        return np.fromiter(
            (lookup.get(h3.latlng_to_cell(y, x, res), -1) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)),
            dtype=np.int64,
            count=len(xs),
        )

    def _index_square(self, points: gpd.GeoSeries) -> npt.NDArray[np.int64]:
        size = self.spec.size_m
        assert size is not None
        projected = points.to_crs(self.working_crs)
        ix = np.floor(projected.x.to_numpy() / size).astype(np.int64)
        iy = np.floor(projected.y.to_numpy() / size).astype(np.int64)
        lookup = {cid: i for i, cid in enumerate(self.ids)}
        keys = (_square_id(size, a, b) for a, b in zip(ix.tolist(), iy.tolist(), strict=True))
        return np.fromiter((lookup.get(k, -1) for k in keys), dtype=np.int64, count=len(ix))


def _square_id(size_m: float, ix: int, iy: int) -> str:
    return f"sq{size_m:g}_{ix}_{iy}"


def _lonlat(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise ValidationError(f"{what}: the layer has no CRS; set it (lon/lat EPSG:4326) before building cells")
    return frame if frame.crs.to_epsg() in (4326, 4490) else frame.to_crs(4326)


def _cells_frame(ids: list[str], names: list[str], households: npt.ArrayLike, geoms: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {CELL_ID: ids, CELL_NAME: names, CELL_HOUSEHOLDS: np.asarray(households, dtype=float)},
        geometry=gpd.GeoSeries(np.asarray(geoms, dtype=object), crs="EPSG:4326"),
    )


def _numeric(values: pd.Series) -> npt.NDArray[np.float64]:
    return np.asarray(pd.to_numeric(values, errors="coerce").astype(float).to_numpy(na_value=np.nan), dtype=float)


def cells_from_grids(grids: gpd.GeoDataFrame, *, source: str = "grids") -> Cells:
    """Cells = grids that tile their community (base and dedicated; professional and micro grids overlap them)."""
    frame = _lonlat(grids, source)
    kind_col = schema.GRIDS_SPEC.column("kind").name
    if kind_col in frame.columns:
        frame = frame[frame[kind_col].isna() | frame[kind_col].isin(TILING_GRID_KINDS)]
    return _polygon_cells(frame, CellSpec("grids"), source)


def cells_from_communities(areas: gpd.GeoDataFrame, *, source: str = "areas") -> Cells:
    """Cells = communities (社区/村) of the areas layer (rows whose level is community)."""
    frame = _lonlat(areas, source)
    level_col = schema.AREAS_SPEC.column("level").name
    if level_col in frame.columns:
        frame = frame[frame[level_col] == AreaLevel.COMMUNITY.value]
    return _polygon_cells(frame, CellSpec("communities"), source)


def _polygon_cells(frame: gpd.GeoDataFrame, spec: CellSpec, source: str) -> Cells:
    code = schema.AREAS_SPEC.column("code").name
    if code not in frame.columns:
        raise ValidationError(f"{source}: no '{code}' column; {spec.kind} cells are identified by their code")
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if frame.empty:
        raise ValidationError(f"{source}: no {spec.kind} with a geometry to count incidents in", code="no_cells")
    frame = frame.sort_values(code, kind="stable")
    codes = [str(c) for c in frame[code]]
    dupes = sorted(set(pd.Series(codes)[pd.Series(codes).duplicated()]))
    if dupes:
        raise ValidationError(f"{source}: {spec.kind} codes {dupes[:5]} appear more than once; each cell needs one row")
    name_col = schema.AREAS_SPEC.column("name").name
    names = [str(v) for v in frame[name_col]] if name_col in frame.columns else codes
    hh_col = schema.AREAS_SPEC.column("households").name
    households = _numeric(frame[hh_col]) if hh_col in frame.columns else np.full(len(frame), np.nan)
    cells = _cells_frame(codes, names, households, frame.geometry.to_numpy())
    return Cells(spec, cells, working_crs_for(cells))


def study_area_from_points(points: gpd.GeoSeries) -> shapely.Geometry:
    """The convex hull of the points (lon/lat): the study area when no boundary is given."""
    present = points[~(points.isna() | points.is_empty)]
    if present.empty:
        raise ValidationError("no incident has a location; cannot define a study area for the cells")
    return shapely.convex_hull(shapely.union_all(present.to_numpy()))


def h3_cells_from_area(area: shapely.Geometry, resolution: int, *, points: gpd.GeoSeries | None = None) -> Cells:
    """H3 cells of ``resolution`` whose centre lies in ``area`` (lon/lat), plus every cell holding a point.

    Cells are ordered by id so a run is reproducible. Refuses more than MAX_CELLS cells.
    """
    spec = CellSpec("h3", h3_resolution=resolution)
    ids: set[str] = set()
    for part in getattr(area, "geoms", [area]):
        if isinstance(part, shapely.Polygon) and not part.is_empty:
            ids.update(h3.geo_to_cells(part, resolution))
    if points is not None and len(points):
        lons, lats = points.x.tolist(), points.y.tolist()
        ids.update(h3.latlng_to_cell(y, x, resolution) for x, y in zip(lons, lats, strict=True))
    _check_cell_count(len(ids), spec)
    if not ids:
        raise ValidationError(f"cells {spec}: the study area holds no H3 cell; use a finer resolution", code="no_cells")
    ordered = sorted(ids)
    polys = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in ordered]
    frame = _cells_frame(ordered, ordered, np.full(len(ordered), np.nan), polys)
    return Cells(spec, frame, working_crs_for(frame))


def square_cells_from_area(
    area: shapely.Geometry, size_m: float, *, points: gpd.GeoSeries | None = None, crs: pyproj.CRS | None = None
) -> Cells:
    """Squares of ``size_m`` metres, aligned to multiples of the size in the working CRS, that meet ``area``.

    Squares holding a point are always kept. Ids are ``sq<size>_<column>_<row>``.
    """
    spec = CellSpec("square", size_m=size_m)
    working = crs if crs is not None else working_crs_for(area)
    area_m = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(working).iloc[0]
    minx, miny, maxx, maxy = area_m.bounds
    ix0, iy0 = math.floor(minx / size_m), math.floor(miny / size_m)
    nx, ny = math.floor(maxx / size_m) - ix0 + 1, math.floor(maxy / size_m) - iy0 + 1
    _check_cell_count(nx * ny, spec)
    mesh_x, mesh_y = np.meshgrid(np.arange(ix0, ix0 + nx), np.arange(iy0, iy0 + ny))
    gx, gy = mesh_x.ravel(), mesh_y.ravel()
    boxes = shapely.box(gx * size_m, gy * size_m, (gx + 1) * size_m, (gy + 1) * size_m)
    keep = shapely.intersects(boxes, area_m)
    if points is not None and len(points):
        proj = points.to_crs(working)
        px = np.floor(proj.x.to_numpy() / size_m).astype(np.int64) - ix0
        py = np.floor(proj.y.to_numpy() / size_m).astype(np.int64) - iy0
        inside = (px >= 0) & (px < nx) & (py >= 0) & (py < ny)
        keep[(py[inside] * nx + px[inside])] = True
    gx, gy, boxes = gx[keep], gy[keep], boxes[keep]
    if len(boxes) == 0:
        raise ValidationError(f"cells {spec}: no square meets the study area", code="no_cells")
    ids = [_square_id(size_m, int(a), int(b)) for a, b in zip(gx, gy, strict=True)]
    lonlat = gpd.GeoSeries(boxes, crs=working).to_crs(4326).to_numpy()
    frame = _cells_frame(ids, ids, np.full(len(ids), np.nan), lonlat)
    return Cells(spec, frame, working)


def _check_cell_count(n: int, spec: CellSpec) -> None:
    if n > MAX_CELLS:
        raise ValidationError(
            f"cells {spec}: the study area needs {n:,} cells, more than {MAX_CELLS:,}; use a coarser resolution"
            " or a bigger square",
            code="too_many_cells",
        )


def households_from_buildings(cells: Cells, buildings: gpd.GeoDataFrame) -> npt.NDArray[np.float64]:
    """Households (户) per cell, summed over buildings by their representative point (NaN where none known).

    Used for H3 and square cells, which have no household count of their own; a cell with
    buildings that all lack a count stays NaN, a cell without buildings gets 0.
    """
    hh_col = schema.BUILDINGS_SPEC.column("households").name
    out = np.zeros(len(cells), dtype=float)
    if buildings.empty:
        return out
    if hh_col not in buildings.columns:
        return np.full(len(cells), np.nan)
    frame = _lonlat(buildings, "buildings")
    points = gpd.GeoSeries(frame.geometry.representative_point(), crs=frame.crs)
    idx = cells.index_of_points(points)
    values = _numeric(frame[hh_col])
    inside = idx >= 0
    known = inside & ~np.isnan(values)
    np.add.at(out, idx[known], values[known])
    unknown_only = np.zeros(len(cells), dtype=bool)
    unknown_only[idx[inside & np.isnan(values)]] = True
    counted = np.zeros(len(cells), dtype=bool)
    counted[idx[known]] = True
    out[unknown_only & ~counted] = np.nan
    return out


def with_households(cells: Cells, households: npt.ArrayLike) -> Cells:
    """The same cells with their household counts replaced (one value per cell)."""
    values = np.asarray(households, dtype=float)
    if len(values) != len(cells):
        raise ValidationError(f"households: {len(values)} values for {len(cells)} cells")
    frame = cells.frame.copy()
    frame[CELL_HOUSEHOLDS] = values
    return Cells(cells.spec, frame, cells.working_crs)
