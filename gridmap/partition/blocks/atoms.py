"""Atoms: the pieces a partition strategy groups into grids.

An atom is a road block, an estate that fits the band (its blocks joined, P-25), or a piece of
a block that held more than ``band.max`` households (``split.py``). Every building belongs to
exactly one atom. Atoms of an estate above the band carry that estate's group key so that the
engine partitions them on their own (the estate gets grids of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.partition.blocks.estates import EstatePlan
from gridmap.partition.blocks.faces import GeomArray
from gridmap.partition.blocks.households import HOUSEHOLDS, POPULATION
from gridmap.partition.blocks.road_blocks import BLOCK_ID, cut_weight_of
from gridmap.partition.blocks.split import pieces_from_block
from gridmap.partition.problem import Band, PartitionProblem

ATOM_ID = "atom_id"
ATOM_KIND = "atom_kind"  # block | estate | piece
BLOCK_IDS = "block_ids"
ESTATE_GROUP = "estate_group"  # group key of an estate (whole or oversize) or None
SPLIT_METHOD = "split_method"


@dataclass
class AtomSet:
    """Atoms (metric CRS) and, aligned with the buildings frame, each building's atom index."""

    atoms: gpd.GeoDataFrame
    building_atom: npt.NDArray[np.int64]
    splits: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Builder:
    geoms: list[BaseGeometry] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    block_ids: list[list[int]] = field(default_factory=list)
    estate: list[str | None] = field(default_factory=list)
    method: list[str | None] = field(default_factory=list)

    def add(self, geom: BaseGeometry, kind: str, blocks: list[int], estate: str | None, method: str | None) -> int:
        self.geoms.append(geom)
        self.kinds.append(kind)
        self.block_ids.append(blocks)
        self.estate.append(estate)
        self.method.append(method)
        return len(self.geoms) - 1


def atoms_from_blocks(
    blocks: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    estates: EstatePlan,
    *,
    band: Band,
    rng: np.random.Generator,
    minor_ways: GeomArray,
    sliver_area_m2: float,
) -> AtomSet:
    """Atoms from blocks with households, estate groups and the minor ways for splitting.

    ``buildings`` carry ``block_id`` (from ``households.assign_buildings_to_blocks``); the
    result's ``building_atom`` is aligned with their rows.
    """
    geom_of = dict(zip(blocks[BLOCK_ID].tolist(), blocks.geometry, strict=True))
    hh_of = dict(zip(blocks[BLOCK_ID].tolist(), blocks[HOUSEHOLDS].astype(int).tolist(), strict=True))
    block_of_building = buildings[BLOCK_ID].to_numpy()
    building_atom = np.full(len(buildings), -1, dtype=np.int64)
    out = _Builder()
    splits: list[dict[str, Any]] = []
    for whole_key, ids in estates.whole.items():
        joined = shapely.coverage_union_all(np.asarray([geom_of[b] for b in ids]))
        atom = out.add(joined, "estate", ids, whole_key, None)
        building_atom[np.isin(block_of_building, ids)] = atom
    group_of = estates.group_of_block()
    polys = estates.polygons
    for bid in blocks[BLOCK_ID].tolist():
        key: str | None = group_of.get(bid)
        if key is not None and key in estates.whole:
            continue
        mine = np.flatnonzero(block_of_building == bid)
        if hh_of[bid] <= band.max:
            building_atom[mine] = out.add(geom_of[bid], "block", [bid], key, None)
            continue
        keep_whole: list[BaseGeometry] = [] if key is not None or polys is None else _estates_in(polys, geom_of[bid])
        split = pieces_from_block(
            geom_of[bid],
            buildings.iloc[mine],
            band=band,
            rng=rng,
            minor_ways=_ways_in(minor_ways, geom_of[bid]),
            keep_whole=keep_whole,
            sliver_area_m2=sliver_area_m2,
        )
        first = len(out.geoms)
        for piece in split.pieces:
            out.add(piece, "piece", [bid], key, split.method)
        building_atom[mine] = first + split.building_piece
        splits.append(
            {"block_id": bid, "households": hh_of[bid], "method": split.method, "piece_households": split.households}
        )
    return AtomSet(_frame(out, buildings, building_atom, blocks.crs), building_atom, splits)


def _ways_in(ways: GeomArray, area: BaseGeometry) -> list[BaseGeometry]:
    if len(ways) == 0:
        return []
    hit = shapely.STRtree(ways).query(area, predicate="intersects")
    return [ways[i] for i in hit.tolist()]


def _estates_in(polys: gpd.GeoDataFrame, area: BaseGeometry) -> list[BaseGeometry]:
    if len(polys) == 0:
        return []
    geoms = np.asarray(polys.geometry.values, dtype=object)
    hit = shapely.STRtree(geoms).query(area, predicate="intersects")
    return [geoms[i] for i in hit.tolist()]


def _frame(
    out: _Builder, buildings: gpd.GeoDataFrame, building_atom: npt.NDArray[np.int64], crs: Any
) -> gpd.GeoDataFrame:
    n = len(out.geoms)
    hh = np.bincount(building_atom, weights=buildings[HOUSEHOLDS].to_numpy(dtype=float), minlength=n)
    frame = gpd.GeoDataFrame(
        {
            ATOM_ID: np.arange(n, dtype=np.int64),
            ATOM_KIND: out.kinds,
            HOUSEHOLDS: np.rint(hh).astype(np.int64),
            BLOCK_IDS: out.block_ids,
            ESTATE_GROUP: pd.Series(out.estate, dtype=object),
            SPLIT_METHOD: pd.Series(out.method, dtype=object),
        },
        geometry=out.geoms,
        crs=crs,
    )
    if POPULATION in buildings.columns:
        pop = buildings[POPULATION].fillna(0).to_numpy(dtype=float)
        frame[POPULATION] = np.rint(np.bincount(building_atom, weights=pop, minlength=n)).astype(np.int64)
    return frame


def problem_from_atoms(
    atoms: gpd.GeoDataFrame, edges: pd.DataFrame, *, band: Band, n_grids: int | None = None
) -> PartitionProblem:
    """The graph problem of a set of atoms: households, centroids (m), areas (m²) and the edges
    among them weighted by ``CUT_WEIGHT_PER_M`` of the road they follow."""
    ids = atoms["atom_id"].to_numpy(dtype=np.int64)
    pos = {int(a): i for i, a in enumerate(ids)}
    a_all = edges["block_a"].to_numpy(dtype=np.int64)
    b_all = edges["block_b"].to_numpy(dtype=np.int64)
    keep = np.asarray([int(x) in pos and int(y) in pos for x, y in zip(a_all, b_all, strict=True)], dtype=bool)
    pairs = np.asarray(
        [[pos[int(x)], pos[int(y)]] for x, y in zip(a_all[keep], b_all[keep], strict=True)], dtype=np.int64
    )
    pairs = np.sort(pairs.reshape(-1, 2), axis=1)
    centroid = shapely.centroid(np.asarray(atoms.geometry.values, dtype=object))
    weight = [cut_weight_of(c) for c in edges["road_class"].to_numpy()[keep]]
    if n_grids is not None:
        n_grids = max(1, min(n_grids, len(ids)))
    return PartitionProblem(
        households=atoms[HOUSEHOLDS].to_numpy(dtype=np.int64),
        xy_m=np.column_stack([shapely.get_x(centroid), shapely.get_y(centroid)]).astype(float),
        area_m2=np.asarray(shapely.area(np.asarray(atoms.geometry.values, dtype=object)), dtype=float),
        edges=pairs,
        edge_length_m=edges["shared_length_m"].to_numpy(dtype=float)[keep],
        edge_cut_weight=np.asarray(weight, dtype=float),
        band=band,
        n_grids=n_grids,
        atom_ids=tuple(str(i) for i in ids),
    )
