"""Rebalancing (动态调整, P-45/P-46): bring a community's active grids back into the band, changing little.

Why not just partition again: a new partition renumbers grids and moves boundaries everywhere, so
workers, signs (公示牌) and records would all have to follow. After a new estate is imported or
buildings are demolished, most grids are still fine. Here the current grids are mapped onto the
current road blocks (a block belongs to the grid holding its representative point; a block that an
earlier generation split between grids stays split), households are recounted from the current
buildings, and ``rebalance_repair.repair_labels`` fixes only the grids that left the band.

Grids that stay in band keep their code; new grids continue the community's sequence after every
code it ever used (retired codes are never reused). Dedicated and other non-base grids are kept
as they are. Metric work happens in the community's working CRS (metres, m²); frames going out are in
the storage CRS (lon/lat).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.codes import grid_code, grid_name, reading_order
from gridmap.config import Settings
from gridmap.crs import working_crs_for
from gridmap.errors import ValidationError
from gridmap.model import GridKind
from gridmap.partition.assemble import polygonal
from gridmap.partition.atoms import problem_from_atoms
from gridmap.partition.blocks import MINOR_ROAD_CLASSES, ROAD_CLASS, blocks_from_roads, lines_from_roads
from gridmap.partition.checks import check_partition
from gridmap.partition.checks_report import Certificate
from gridmap.partition.faces import coverage_from_polygons, shared_boundaries
from gridmap.partition.households import HOUSEHOLDS, POPULATION, assign_buildings_to_blocks, buildings_from_input
from gridmap.partition.problem import Band
from gridmap.partition.rebalance_repair import RepairResult, repair_labels
from gridmap.partition.split import pieces_from_block
from gridmap.schema import GRIDS_SPEC

UNIT_ID = "unit_id"
OLD_CODE = "old_code"
NEW_CODE = "new_code"
MOVED = "moved"
#: A block is kept split between grids when each piece holds at least this share of its area
#: (and at least ``settings.sliver_area_m2``); smaller pieces are digitising noise along a shared edge.
SPLIT_SHARE = 0.05
#: A shared edge within this distance (m) of a road line lies on that road.
ROAD_SNAP_M = 1.0
#: Flags of the old grid that stay meaningful after a rebalance (band flags are recomputed).
_KEPT_FLAGS = frozenset({"estate_split", "block_split", "disconnected_part"})
_COLUMNS = GRIDS_SPEC.column_names


@dataclass
class RebalancePlan:
    """The proposal: grids before (active) and after, the units with old and new codes, the report."""

    community_code: str
    before: gpd.GeoDataFrame
    after: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    certificate: Certificate
    report: dict[str, Any]
    band: Band

    @property
    def changed(self) -> bool:
        return bool(self.report["changed"])

    def to_dict(self) -> dict[str, Any]:
        return {**self.report, "certificate": self.certificate.to_dict()}


def sequence_of(code: str) -> int:
    """The 3-digit grid sequence at the end of a 15-digit code (0 if it is not a grid code)."""
    tail = str(code)[-3:]
    return int(tail) if len(str(code)) == 15 and tail.isdigit() else 0


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


def rebalance_community(
    boundary: BaseGeometry,
    roads: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame,
    active: gpd.GeoDataFrame,
    *,
    community_code: str,
    community_name: str,
    band: Band,
    settings: Settings,
    used_codes: Iterable[str] = (),
    seed: int = 0,
) -> RebalancePlan:
    """Propose the smallest change that brings every base grid of ``active`` back into ``band``.

    ``boundary`` (storage CRS), ``roads`` and ``buildings`` (with ``households``) are the community's
    current data; ``active`` its active grids; ``used_codes`` every grid code the community ever had,
    in any generation (new codes continue after the largest). Randomness (only in splits) comes from
    ``seed`` through one ``numpy.random.Generator``.
    """
    started = time.perf_counter()
    if active.empty:
        raise ValidationError(f"community {community_code}: there are no active grids to rebalance")
    crs = working_crs_for(gpd.GeoSeries([boundary], crs=settings.storage_epsg))
    area = gpd.GeoSeries([boundary], crs=settings.storage_epsg).to_crs(crs).iloc[0]
    grids_m = active.to_crs(crs).reset_index(drop=True)
    is_base = (grids_m["kind"] == GridKind.BASE.value).to_numpy()
    frozen = grids_m.loc[~is_base].reset_index(drop=True)
    base = grids_m.loc[is_base].reset_index(drop=True)
    base_area = area
    if len(frozen):
        base_area = polygonal(shapely.difference(area, shapely.union_all(np.asarray(frozen.geometry.values))))
    road_lines = lines_from_roads(roads)
    blocks = blocks_from_roads(gpd.GeoSeries([base_area], crs=crs), road_lines if len(road_lines) else None,
                               sliver_area_m2=settings.sliver_area_m2, crs=crs, source=f"community {community_code}")
    units = units_from_grids(blocks, base, sliver_area_m2=settings.sliver_area_m2)
    rng = np.random.default_rng(seed)
    counted = _count_households(units, frozen, buildings, area, crs)
    if (units[HOUSEHOLDS] > band.max).any():
        minor = lines_from_roads(road_lines, classes=MINOR_ROAD_CLASSES).to_crs(crs) if len(road_lines) else None
        units = _split_heavy_units(units, counted, band, minor, rng, settings.sliver_area_m2)
        counted = _count_households(units, frozen, buildings, area, crs)
    edges = edges_of_units(units, road_lines.to_crs(crs) if len(road_lines) else None)
    problem = problem_from_atoms(units.rename(columns={UNIT_ID: "atom_id"}), edges, band=band)
    labels, codes = _initial_labels(units, edges, [str(c) for c in base["code"]])
    repaired = repair_labels(problem, labels, codes, rng=rng)
    used = {*map(str, used_codes), *map(str, active["code"])}
    after, new_code_of_region = _grids_after(
        repaired, units, frozen, base, area, counted, band,
        community_code=community_code, community_name=community_name, first_sequence=max(map(sequence_of, used)) + 1,
    )  # fmt: skip
    units[NEW_CODE] = [new_code_of_region[int(r)] for r in repaired.labels]
    units[MOVED] = units[OLD_CODE].notna() & (units[OLD_CODE] != units[NEW_CODE])
    store_crs = pyproj.CRS.from_epsg(settings.storage_epsg)
    after_store = _to_storage(after, store_crs)
    parent = gpd.GeoDataFrame({"code": [community_code]}, geometry=[boundary], crs=store_crs)
    certificate = check_partition(after_store, parent, buildings=counted.to_crs(store_crs), band=band,
                                  parent_code_column="code", source=f"community {community_code}")
    report = _report(units, base, after, repaired, band, community_code, time.perf_counter() - started)
    return RebalancePlan(community_code, active, after_store, units.to_crs(store_crs), certificate, report, band)


def _count_households(
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


def _split_heavy_units(
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


def _initial_labels(
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


def _grids_after(
    repaired: RepairResult,
    units: gpd.GeoDataFrame,
    frozen: gpd.GeoDataFrame,
    base: gpd.GeoDataFrame,
    area: BaseGeometry,
    counted: gpd.GeoDataFrame,
    band: Band,
    *,
    community_code: str,
    community_name: str,
    first_sequence: int,
) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """The proposed grids (metric CRS, GRIDS_SPEC columns) and the final code of every region."""
    regions = sorted(set(repaired.labels.tolist()))
    geoms = np.asarray(units.geometry.values, dtype=object)
    unions = [shapely.coverage_union_all(geoms[repaired.labels == r]) for r in regions]
    renoded = coverage_from_polygons([*unions, *frozen.geometry], area)
    new_regions = [r for r in regions if repaired.codes.get(r) is None]
    if new_regions:
        pts = shapely.point_on_surface(np.asarray([renoded[regions.index(r)] for r in new_regions], dtype=object))
        order = reading_order(shapely.get_x(pts), shapely.get_y(pts)).tolist()
        new_regions = [new_regions[i] for i in order]
    code_of: dict[int, str] = {r: str(repaired.codes[r]) for r in regions if repaired.codes.get(r) is not None}
    for k, r in enumerate(new_regions):
        code_of[r] = grid_code(community_code, first_sequence + k)
    old = {str(row["code"]): row for _, row in base.iterrows()}
    hh = units[HOUSEHOLDS].to_numpy(dtype=np.int64)
    pop = units[POPULATION].to_numpy(dtype=np.int64) if POPULATION in units.columns else None
    rows: list[dict[str, Any]] = []
    out_geoms: list[BaseGeometry] = []
    for i, r in enumerate(regions):
        geom = _polygons_only(renoded[i])
        members = repaired.labels == r
        code = code_of[r]
        prev = old.get(code)
        households = int(hh[members].sum())
        rows.append({
            "code": code,
            "name": str(prev["name"]) if prev is not None else grid_name(community_name, sequence_of(code)),
            "kind": GridKind.BASE.value,
            "subtype": prev["subtype"] if prev is not None else None,
            "community_code": community_code,
            "generation_id": 0,
            "households": households,
            "population": int(pop[members].sum()) if pop is not None else None,
            "area_m2": round(float(geom.area), 1),
            "flags": _flags(prev, geom, households, band),
            "synthetic": bool(prev["synthetic"]) if prev is not None and pd.notna(prev["synthetic"]) else False,
        })  # fmt: skip
        out_geoms.append(geom)
    unit_col = counted[UNIT_ID].to_numpy(dtype=np.int64) if len(counted) else np.zeros(0, dtype=np.int64)
    counted_hh = counted[HOUSEHOLDS].to_numpy(dtype=float) if len(counted) else np.zeros(0)
    for k, (_, row) in enumerate(frozen.iterrows()):
        geom = _polygons_only(renoded[len(regions) + k])
        record = {c: row[c] for c in _COLUMNS if c in row.index}
        record["households"] = round(float(counted_hh[unit_col == -1 - k].sum()))
        record["area_m2"] = round(float(geom.area), 1)
        rows.append(record)
        out_geoms.append(geom)
    frame = pd.DataFrame(rows).reindex(columns=[c for c in _COLUMNS if c not in ("valid_from", "valid_to")])
    geoms_out = [shapely.MultiPolygon(list(shapely.get_parts(g))) for g in out_geoms]
    return gpd.GeoDataFrame(frame, geometry=geoms_out, crs=units.crs), code_of


def _polygons_only(geom: BaseGeometry) -> BaseGeometry:
    """``assemble.polygonal`` without its union when the geometry is polygonal already (the usual case)."""
    return geom if geom.geom_type in ("Polygon", "MultiPolygon") else polygonal(geom)


def _flags(prev: pd.Series | None, geom: BaseGeometry, households: int, band: Band) -> list[dict[str, str]]:
    """Kept informational flags of the old grid plus freshly computed band and contiguity flags."""
    old = prev["flags"] if prev is not None and isinstance(prev["flags"], list) else []
    flags = [f for f in old if isinstance(f, dict) and f.get("code") in _KEPT_FLAGS]
    multipart = len(shapely.get_parts(geom)) > 1
    flags = [f for f in flags if f.get("code") != "disconnected_part" or multipart]
    if multipart and not any(f.get("code") == "disconnected_part" for f in flags):
        flags.append({"code": "not_contiguous", "message": "the grid is in several pieces"})
    if households < band.min:
        flags.append({"code": "under_min", "message": f"{households} households, below the band minimum {band.min}:"
                      " no neighbour could give or take households without leaving the band"})
    elif households > band.max:
        flags.append({"code": "over_max", "message": f"{households} households, above the band maximum {band.max}:"
                      " its blocks cannot be divided within the band"})
    return flags


def _to_storage(metric: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    out = metric.to_crs(crs)
    for col in ("households", "population", "generation_id"):
        out[col] = pd.array([None if pd.isna(v) else int(v) for v in out[col]], dtype="Int64")
    return out


def _report(
    units: gpd.GeoDataFrame,
    base: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    repaired: RepairResult,
    band: Band,
    community_code: str,
    runtime_s: float,
) -> dict[str, Any]:
    """The diff: blocks and households moved, codes kept/retired/new, per-grid households."""
    hh = units[HOUSEHOLDS].to_numpy(dtype=np.int64)
    moved = units[MOVED].to_numpy(dtype=bool)
    joined = units[OLD_CODE].isna().to_numpy()
    old_codes = [str(c) for c in base["code"]]
    new_codes = [str(c) for c, k in zip(after["code"], after["kind"], strict=True) if k == GridKind.BASE.value]
    now = units.groupby(OLD_CODE)[HOUSEHOLDS].sum().to_dict()
    after_hh = dict(zip(after["code"].astype(str), after["households"].astype(int), strict=True))
    stored = dict(zip(base["code"].astype(str), base["households"], strict=True))
    grids: list[dict[str, Any]] = []
    for code in sorted(set(old_codes) | set(new_codes)):
        status = "kept" if code in old_codes and code in new_codes else ("new" if code in new_codes else "retired")
        grids.append({
            "code": code,
            "status": status,
            "households_stored": None if pd.isna(stored.get(code)) else int(stored[code]) if code in stored else None,
            "households_now": int(now.get(code, 0)) if code in old_codes else None,
            "households_after": after_hh.get(code),
            "in_band_after": band.contains(after_hh[code]) if code in after_hh else None,
        })  # fmt: skip
    kept = sorted(set(old_codes) & set(new_codes))
    return {
        "community_code": community_code,
        "band": {"min": band.min, "max": band.max, "target": band.target},
        "changed": bool(moved.any() or joined.any() or len(kept) != len(old_codes) or len(new_codes) != len(kept)),
        "blocks": len(units),
        "blocks_moved": int(moved.sum()),
        "households_moved": int(hh[moved].sum()),
        "blocks_joined": int(joined.sum()),
        "households_joined": int(hh[joined].sum()),
        "codes_kept": kept,
        "codes_retired": sorted(set(old_codes) - set(new_codes)),
        "codes_new": sorted(set(new_codes) - set(old_codes)),
        "grids": grids,
        "out_of_band_after": sorted(g["code"] for g in grids if g["in_band_after"] is False),
        "actions": repaired.actions,
        "runtime_s": round(runtime_s, 3),
    }


__all__ = ["RebalancePlan", "rebalance_community", "sequence_of", "units_from_grids"]
