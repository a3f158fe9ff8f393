"""Units of a rebalance: the current road blocks mapped onto the active grids, with households.

Why units and not grids: a rebalance moves whole road blocks (grid edges stay on roads, P-15). A
block belongs to the grid holding its representative point; a block that an earlier generation split
between grids stays split (one unit per real piece), so "nothing changed" really moves nothing.
Households come from the current buildings (representative points); a unit holding more than the
band maximum (a new estate in one block) is cut like the partition cuts oversize blocks. Metric CRS
throughout (metres, m²).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.partition.blocks.faces import shared_boundaries
from gridmap.partition.blocks.households import (
    ESTATE_ID,
    HOUSEHOLDS,
    POPULATION,
    assign_buildings_to_blocks,
    buildings_from_input,
)
from gridmap.partition.blocks.road_blocks import ROAD_CLASS
from gridmap.partition.blocks.split import pieces_from_block
from gridmap.partition.grids.assemble import polygonal
from gridmap.partition.problem import Band

UNIT_ID = "unit_id"
OLD_CODE = "old_code"
#: A block is kept split between grids when each piece holds at least this share of its area
#: (and at least ``settings.sliver_area_m2``); smaller pieces are digitising noise along a shared edge.
SPLIT_SHARE = 0.05
#: A shared edge within this distance (m) of a road line lies on that road.
ROAD_SNAP_M = 1.0


def units_from_grids(
    blocks: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, *, sliver_area_m2: float
) -> gpd.GeoDataFrame:
    """Units (blocks, or pieces of blocks split between grids) with the code of their grid (metric CRS).

    A block goes whole to the grid holding its representative point unless two or more grids each
    hold a real piece of it (>= ``sliver_area_m2`` and >= ``SPLIT_SHARE`` of its area): then each
    such grid gets its piece, and the slivers go to the largest piece. ``old_code`` is None for a
    block outside every grid (new ground in the community).
    """
    bgeoms = np.asarray(blocks.geometry.values, dtype=object)
    ggeoms = np.asarray(grids.geometry.values, dtype=object)
    codes = [str(c) for c in grids["code"]]
    tree = shapely.STRtree(ggeoms)
    rep = shapely.point_on_surface(bgeoms)
    r_idx, rg_idx = tree.query(rep, predicate="intersects")
    rep_owner: dict[int, int] = {}
    for b, g in sorted(zip(r_idx.tolist(), rg_idx.tolist(), strict=True), key=lambda t: (t[0], codes[t[1]])):
        rep_owner.setdefault(b, g)
    pieces = _pieces_of_blocks(bgeoms, ggeoms, tree, rep_owner, sliver_area_m2)
    rows: list[tuple[int, BaseGeometry, str | None]] = []
    for b, geom in enumerate(bgeoms):
        area = float(geom.area)
        found = pieces.get(b, [])
        real = [(g, a) for g, a in found if a >= sliver_area_m2 and a >= SPLIT_SHARE * area]
        if len(real) <= 1:
            owner = rep_owner.get(b, max(found, key=lambda t: t[1])[0] if found else -1)
            rows.append((b, geom, codes[owner] if owner >= 0 else None))
            continue
        parts = [polygonal(shapely.intersection(geom, ggeoms[g])) for g, _ in real]
        rest = polygonal(shapely.difference(geom, shapely.union_all(np.asarray(parts, dtype=object))))
        biggest = int(np.argmax([p.area for p in parts]))
        if not rest.is_empty:
            parts[biggest] = shapely.union_all([parts[biggest], rest])
        rows.extend((b, part, codes[g]) for (g, _), part in zip(real, parts, strict=True))
    return gpd.GeoDataFrame(
        {
            UNIT_ID: np.arange(len(rows), dtype=np.int64),
            "block_id": [int(blocks["block_id"].iloc[b]) for b, _, _ in rows],
            OLD_CODE: pd.Series([c for _, _, c in rows], dtype=object),
        },
        geometry=[g for _, g, _ in rows],
        crs=blocks.crs,
    )


def _pieces_of_blocks(
    bgeoms: npt.NDArray[np.object_],
    ggeoms: npt.NDArray[np.object_],
    tree: shapely.STRtree,
    rep_owner: dict[int, int],
    sliver_area_m2: float,
) -> dict[int, list[tuple[int, float]]]:
    """(grid, area m²) of each block's overlap with the grids, measured only where needed.

    Most blocks lie inside the grid holding their representative point: one intersection shows it
    (the rest is under a sliver) and their touching neighbours are never intersected.
    """
    owners = np.asarray([rep_owner.get(b, -1) for b in range(len(bgeoms))], dtype=np.int64)
    has = owners >= 0
    own_area = np.zeros(len(bgeoms))
    if has.any():
        own_area[has] = shapely.area(shapely.intersection(bgeoms[has], ggeoms[owners[has]]))
    rest = shapely.area(bgeoms) - own_area
    pieces: dict[int, list[tuple[int, float]]] = {b: [(int(owners[b]), float(own_area[b]))]
                                                 for b in np.flatnonzero(has).tolist()}  # fmt: skip
    unsure = np.flatnonzero(~has | (rest >= sliver_area_m2))
    if len(unsure):
        b_idx, g_idx = tree.query(bgeoms[unsure], predicate="intersects")
        areas = shapely.area(shapely.intersection(bgeoms[unsure][b_idx], ggeoms[g_idx]))
        for b, g, a in zip(unsure[b_idx].tolist(), g_idx.tolist(), np.asarray(areas).tolist(), strict=True):
            pieces[b] = [p for p in pieces.get(b, []) if p[0] != g] + [(g, a)]
    return pieces


def edges_of_units(units: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """Neighbouring units (``block_a``, ``block_b`` = unit ids), shared length (m) and the class of the
    road the shared edge runs on: the road nearest to the edge's middle, within ``ROAD_SNAP_M``.

    Why not ``blocks.block_edges_from_blocks``: units are road blocks, so their edges lie on roads by
    construction; the nearest road tells the class, at a fraction of the cost of overlaying every
    road buffer (this is what keeps a 1,000-block rebalance under its time budget).
    """
    geoms = np.asarray(units.geometry.values, dtype=object)
    a, b, lines, length = shared_boundaries(geoms)
    ids = units[UNIT_ID].to_numpy()
    classes = np.full(len(a), None, dtype=object)
    if roads is not None and len(roads) and len(a):
        middles = shapely.line_interpolate_point(shapely.line_merge(lines), 0.5, normalized=True)
        road_geoms = np.asarray(roads.geometry.values, dtype=object)
        e_idx, r_idx = shapely.STRtree(road_geoms).query_nearest(middles, max_distance=ROAD_SNAP_M, all_matches=False)
        classes[e_idx] = roads[ROAD_CLASS].to_numpy()[r_idx]
    return pd.DataFrame({"block_a": ids[a], "block_b": ids[b], "shared_length_m": length,
                         "road_class": pd.Series([None if c is None else str(c) for c in classes], dtype=object)})


def count_households(
    units: gpd.GeoDataFrame, frozen: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, area: BaseGeometry, crs: Any
) -> gpd.GeoDataFrame:
    """Households (and population) per unit from the buildings' representative points; buildings
    inside a kept non-base grid count there. Sets the units' columns; returns the counted buildings
    with ``unit_id`` (-1 - k for non-base grid k)."""
    n = len(units)
    cells = gpd.GeoDataFrame(
        {UNIT_ID: np.arange(n + len(frozen), dtype=np.int64)},
        geometry=list(units.geometry) + list(frozen.geometry),
        crs=crs,
    )
    frame = buildings_from_input(buildings, crs=crs) if len(buildings) else buildings.to_crs(crs)
    if len(frame) == 0:
        units[HOUSEHOLDS] = np.zeros(n, dtype=np.int64)
        frame = frame.assign(**{UNIT_ID: pd.Series([], dtype=np.int64), HOUSEHOLDS: pd.Series([], dtype=np.int64)})
        return frame
    counted = assign_buildings_to_blocks(frame, cells, area=area, block_column=UNIT_ID).buildings
    cell = counted[UNIT_ID].to_numpy(dtype=np.int64)
    counted[UNIT_ID] = np.where(cell < n, cell, -1 - (cell - n))
    in_unit = cell < n
    hh = counted[HOUSEHOLDS].to_numpy(dtype=float)
    units[HOUSEHOLDS] = np.rint(np.bincount(cell[in_unit], weights=hh[in_unit], minlength=n)).astype(np.int64)
    if POPULATION in counted.columns:
        pop = pd.to_numeric(counted[POPULATION], errors="coerce").fillna(0).to_numpy(dtype=float)
        units[POPULATION] = np.rint(np.bincount(cell[in_unit], weights=pop[in_unit], minlength=n)).astype(np.int64)
    return counted


def fuse_estates(units: gpd.GeoDataFrame, counted: gpd.GeoDataFrame, band: Band) -> gpd.GeoDataFrame:
    """Units holding buildings of one estate (小区) in the same grid become one unit, so no move splits
    the estate (P-25); only when the estate fits the band (a bigger one was split on purpose)."""
    if ESTATE_ID not in counted.columns or counted.empty:
        return units
    estate = counted[ESTATE_ID].astype("string")
    unit = counted[UNIT_ID].to_numpy(dtype=np.int64)
    keep = estate.notna().to_numpy() & (unit >= 0)
    pairs = pd.DataFrame({"estate": estate[keep].to_numpy(), "unit": unit[keep]}).drop_duplicates()
    hh = units[HOUSEHOLDS].to_numpy(dtype=np.int64)
    old = units[OLD_CODE].to_numpy(dtype=object)
    owner = np.arange(len(units))
    for _, group in pairs.groupby("estate"):
        members = sorted(set(group["unit"].tolist()))
        by_grid: dict[Any, list[int]] = {}
        for u in members:
            by_grid.setdefault(old[u], []).append(u)
        for same in by_grid.values():
            roots = sorted({int(owner[u]) for u in same})
            if len(roots) > 1 and int(hh[np.isin(owner, roots)].sum()) <= band.max:
                owner[np.isin(owner, roots)] = roots[0]
    if (owner == np.arange(len(units))).all():
        return units
    roots = sorted(set(owner.tolist()))
    geoms = np.asarray(units.geometry.values, dtype=object)
    return gpd.GeoDataFrame(
        {
            UNIT_ID: np.arange(len(roots), dtype=np.int64),
            "block_id": [int(units["block_id"].iloc[r]) for r in roots],
            OLD_CODE: pd.Series([old[r] for r in roots], dtype=object),
        },
        geometry=[shapely.union_all(geoms[owner == r]) for r in roots],
        crs=units.crs,
    )


def split_heavy_units(
    units: gpd.GeoDataFrame,
    counted: gpd.GeoDataFrame,
    band: Band,
    minor: gpd.GeoDataFrame | None,
    rng: np.random.Generator,
    sliver_area_m2: float,
) -> gpd.GeoDataFrame:
    """Units over ``band.max`` (a new estate in one block) cut into pieces the way the partition
    cuts oversize blocks (minor ways first, then building clusters; never through a building).
    Pieces keep the unit's old code, so cutting moves nothing by itself."""
    ways = np.asarray(minor.geometry.values, dtype=object) if minor is not None and len(minor) else None
    rows: list[tuple[int, BaseGeometry, Any]] = []
    for _, unit in units.iterrows():
        uid = int(unit[UNIT_ID])
        if int(unit[HOUSEHOLDS]) <= band.max:
            rows.append((int(unit["block_id"]), unit.geometry, unit[OLD_CODE]))
            continue
        mine = counted[counted[UNIT_ID].to_numpy(dtype=np.int64) == uid]
        local = [] if ways is None else [w for w in ways if w.intersects(unit.geometry)]
        split = pieces_from_block(unit.geometry, mine, band=band, rng=rng, minor_ways=local,
                                  sliver_area_m2=sliver_area_m2)
        rows.extend((int(unit["block_id"]), piece, unit[OLD_CODE]) for piece in split.pieces)
    return gpd.GeoDataFrame(
        {
            UNIT_ID: np.arange(len(rows), dtype=np.int64),
            "block_id": [b for b, _, _ in rows],
            OLD_CODE: pd.Series([c for _, _, c in rows], dtype=object),
        },
        geometry=[g for _, g, _ in rows],
        crs=units.crs,
    )


def initial_labels(
    units: gpd.GeoDataFrame, edges: pd.DataFrame, codes: list[str]
) -> tuple[npt.NDArray[np.int64], dict[int, str | None]]:
    """Region per unit from its old grid; units outside every grid join the neighbour they share most
    boundary with (or form a new region when they touch no grid)."""
    region_of = {c: i for i, c in enumerate(codes)}
    labels = np.asarray([region_of.get(c, -1) if isinstance(c, str) else -1 for c in units[OLD_CODE]], dtype=np.int64)
    a = edges["block_a"].to_numpy(dtype=np.int64)
    b = edges["block_b"].to_numpy(dtype=np.int64)
    length = edges["shared_length_m"].to_numpy(dtype=float)
    while (labels < 0).any():
        best: dict[int, tuple[float, int]] = {}
        for x, y, le in zip(a.tolist(), b.tolist(), length.tolist(), strict=True):
            for p, q in ((x, y), (y, x)):
                if labels[p] < 0 <= labels[q] and le > best.get(p, (0.0, -1))[0]:
                    best[p] = (le, int(labels[q]))
        if not best:
            break
        for p, (_, r) in best.items():
            labels[p] = r
    orphans = labels < 0
    if orphans.any():
        labels[orphans] = len(codes)
    out: dict[int, str | None] = dict(enumerate(codes))
    if orphans.any():
        out[len(codes)] = None
    return labels, out
