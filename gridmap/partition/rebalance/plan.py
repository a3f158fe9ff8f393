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
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.codes import grid_code, grid_name, reading_order
from gridmap.config import Settings
from gridmap.crs import working_crs_for
from gridmap.errors import ValidationError
from gridmap.model import GridKind
from gridmap.partition.blocks.atoms import problem_from_atoms
from gridmap.partition.blocks.faces import coverage_from_polygons
from gridmap.partition.blocks.households import HOUSEHOLDS, POPULATION
from gridmap.partition.blocks.road_blocks import MINOR_ROAD_CLASSES, blocks_from_roads, lines_from_roads
from gridmap.partition.certificate.checks import check_partition, projected
from gridmap.partition.certificate.report import Certificate
from gridmap.partition.grids.assemble import polygonal
from gridmap.partition.problem import Band
from gridmap.partition.rebalance.repair import RepairResult, repair_labels
from gridmap.partition.rebalance.units import (
    OLD_CODE,
    UNIT_ID,
    count_households,
    edges_of_units,
    fuse_estates,
    initial_labels,
    split_heavy_units,
    units_from_grids,
)
from gridmap.schema import GRIDS_SPEC

NEW_CODE = "new_code"
MOVED = "moved"
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
    crs, area, base, frozen, blocks = _blocks_and_grids(boundary, roads, active, settings, community_code)
    road_lines = lines_from_roads(roads)
    units = units_from_grids(blocks, base, sliver_area_m2=settings.sliver_area_m2)
    rng = np.random.default_rng(seed)
    counted = count_households(units, frozen, buildings, area, crs)
    fused = fuse_estates(units, counted, band)
    if len(fused) < len(units):
        units = fused
        counted = count_households(units, frozen, buildings, area, crs)
    if (units[HOUSEHOLDS] > band.max).any():
        minor = lines_from_roads(road_lines, classes=MINOR_ROAD_CLASSES).to_crs(crs) if len(road_lines) else None
        units = split_heavy_units(units, counted, band, minor, rng, settings.sliver_area_m2)
        counted = count_households(units, frozen, buildings, area, crs)
    edges = edges_of_units(units, road_lines.to_crs(crs) if len(road_lines) else None)
    problem = problem_from_atoms(units.rename(columns={UNIT_ID: "atom_id"}), edges, band=band)
    labels, codes = initial_labels(units, edges, [str(c) for c in base["code"]])
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


def _blocks_and_grids(
    boundary: BaseGeometry, roads: gpd.GeoDataFrame | None, active: gpd.GeoDataFrame, settings: Settings,
    community_code: str,
) -> tuple[pyproj.CRS, BaseGeometry, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Working CRS, community area, base and kept (non-base) grids, and the road blocks of the area
    the base grids cover (the community minus dedicated and other kept grids), all metric."""
    crs = working_crs_for(gpd.GeoSeries([boundary], crs=settings.storage_epsg))
    # lon/lat edges are straight in lon/lat: densified before projecting, as the certificate does
    area = projected(gpd.GeoDataFrame(geometry=[boundary], crs=settings.storage_epsg), crs).geometry.iloc[0]
    grids_m = projected(active, crs).reset_index(drop=True)
    is_base = (grids_m["kind"] == GridKind.BASE.value).to_numpy()
    frozen = grids_m.loc[~is_base].reset_index(drop=True)
    base_area = area
    if len(frozen):
        base_area = polygonal(shapely.difference(area, shapely.union_all(np.asarray(frozen.geometry.values))))
    road_lines = lines_from_roads(roads)
    blocks = blocks_from_roads(gpd.GeoSeries([base_area], crs=crs), road_lines if len(road_lines) else None,
                               sliver_area_m2=settings.sliver_area_m2, crs=crs, source=f"community {community_code}")
    return crs, area, grids_m.loc[is_base].reset_index(drop=True), frozen, blocks


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
    for record, geom in _kept_rows(frozen, renoded[len(regions):], counted):
        rows.append(record)
        out_geoms.append(geom)
    frame = pd.DataFrame(rows).reindex(columns=[c for c in _COLUMNS if c not in ("valid_from", "valid_to")])
    geoms_out = [shapely.MultiPolygon(list(shapely.get_parts(g))) for g in out_geoms]
    return gpd.GeoDataFrame(frame, geometry=geoms_out, crs=units.crs), code_of


def _kept_rows(frozen: gpd.GeoDataFrame, geoms: list[BaseGeometry], counted: gpd.GeoDataFrame
               ) -> list[tuple[dict[str, Any], BaseGeometry]]:  # fmt: skip
    """Dedicated and other non-base grids as they were, re-noded, with households recounted."""
    unit_col = counted[UNIT_ID].to_numpy(dtype=np.int64) if len(counted) else np.zeros(0, dtype=np.int64)
    counted_hh = counted[HOUSEHOLDS].to_numpy(dtype=float) if len(counted) else np.zeros(0)
    out = []
    for k, (_, row) in enumerate(frozen.iterrows()):
        geom = _polygons_only(geoms[k])
        record = {c: row[c] for c in _COLUMNS if c in row.index}
        record["households"] = round(float(counted_hh[unit_col == -1 - k].sum()))
        record["area_m2"] = round(float(geom.area), 1)
        out.append((record, geom))
    return out


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


__all__ = ["MOVED", "NEW_CODE", "OLD_CODE", "UNIT_ID", "RebalancePlan", "rebalance_community", "sequence_of",
           "units_from_grids"]
