"""Estates (小区) stay whole where the band allows (P-25, P-28).

A block belongs to an estate when at least half of its area lies inside the estate polygon
(estate polygons are drawn to walls or kerbs, road blocks to centre lines, so exact containment
would rarely hold). The blocks of one estate that touch each other form one group:

* households <= ``band.max``: the group becomes one atom, so no grid boundary runs through it;
* households > ``band.max``: the estate gets grids of its own (its blocks are split as needed and
  partitioned separately), every such grid flagged ``estate_split``.

An estate smaller than a block is not grouped here; ``split.py`` keeps it whole if its block must
be split (``keep_whole``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridmap.errors import ValidationError
from gridmap.partition.blocks.faces import components_from_pairs
from gridmap.partition.blocks.households import HOUSEHOLDS
from gridmap.partition.blocks.road_blocks import BLOCK_ID, polygon_from_input
from gridmap.partition.problem import Band
from gridmap.schema import ESTATES_SPEC

ESTATE_ID = ESTATES_SPEC.column("estate_id").name
ESTATE_NAME = ESTATES_SPEC.column("name").name
#: Share of a block's area that must lie inside an estate for the block to belong to it.
MEMBER_SHARE = 0.5


@dataclass
class EstatePlan:
    """How blocks are grouped by estate. Group keys are ``"<estate_id>#<part>"``."""

    whole: dict[str, list[int]] = field(default_factory=dict)
    oversize: dict[str, list[int]] = field(default_factory=dict)
    polygons: gpd.GeoDataFrame | None = None
    report: list[dict[str, Any]] = field(default_factory=list)

    def group_of_block(self) -> dict[int, str]:
        """Block id -> group key, for every grouped block (whole or oversize)."""
        out: dict[int, str] = {}
        for key, ids in (*self.whole.items(), *self.oversize.items()):
            out.update(dict.fromkeys(ids, key))
        return out


def estates_from_input(
    estates: gpd.GeoDataFrame | None, *, crs: pyproj.CRS, source: str = "estates"
) -> gpd.GeoDataFrame:
    """Estate polygons in the working CRS with string ``estate_id`` and ``name`` columns."""
    if estates is None or len(estates) == 0:
        return gpd.GeoDataFrame({ESTATE_ID: [], ESTATE_NAME: []}, geometry=[], crs=crs)
    if estates.crs is None:
        raise ValidationError(f"{source}: the estate layer has no CRS")
    frame = estates.to_crs(crs).reset_index(drop=True)
    if ESTATE_ID not in frame.columns:
        frame[ESTATE_ID] = [f"estate{i + 1}" for i in range(len(frame))]
    if ESTATE_NAME not in frame.columns:
        frame[ESTATE_NAME] = frame[ESTATE_ID]
    frame[ESTATE_ID] = frame[ESTATE_ID].astype(str)
    frame[ESTATE_NAME] = frame[ESTATE_NAME].fillna(frame[ESTATE_ID]).astype(str)
    geoms = []
    for i, geom in enumerate(frame.geometry):
        geoms.append(polygon_from_input(geom, source=f"{source}: estate {frame[ESTATE_ID].iloc[i]}"))
    frame.geometry = gpd.GeoSeries(geoms, crs=crs, index=frame.index)
    dup = frame[ESTATE_ID].duplicated()
    if dup.any():
        raise ValidationError(
            f"{source}: estate_id must be unique; repeated: {', '.join(frame.loc[dup, ESTATE_ID].unique()[:10])}"
        )
    return frame


def estate_of_blocks(blocks: gpd.GeoDataFrame, estates: gpd.GeoDataFrame) -> list[str | None]:
    """Per block, the estate holding at least MEMBER_SHARE of its area (the largest share wins)."""
    out: list[str | None] = [None] * len(blocks)
    if len(estates) == 0 or len(blocks) == 0:
        return out
    bgeo = np.asarray(blocks.geometry.values, dtype=object)
    egeo = np.asarray(estates.geometry.values, dtype=object)
    b_idx, e_idx = shapely.STRtree(egeo).query(bgeo, predicate="intersects")
    share = np.asarray(shapely.area(shapely.intersection(bgeo[b_idx], egeo[e_idx]))) / np.asarray(
        shapely.area(bgeo[b_idx])
    )
    best: dict[int, tuple[float, int]] = {}
    for b, e, s in zip(b_idx.tolist(), e_idx.tolist(), share.tolist(), strict=True):
        if s >= MEMBER_SHARE and s > best.get(b, (0.0, -1))[0]:
            best[b] = (s, e)
    ids = estates[ESTATE_ID].tolist()
    for b, (_, e) in best.items():
        out[b] = ids[e]
    return out


def plan_estates(
    blocks: gpd.GeoDataFrame,
    edges: pd.DataFrame,
    estates: gpd.GeoDataFrame,
    *,
    band: Band,
) -> EstatePlan:
    """Group blocks by estate; each touching group is kept whole or, above ``band.max``, planned
    as the estate's own grids. ``blocks`` need ``block_id`` and ``households``; ``edges`` are
    block edges (``block_a``, ``block_b``)."""
    plan = EstatePlan(polygons=estates)
    if len(estates) == 0:
        return plan
    member = estate_of_blocks(blocks, estates)
    ids = blocks[BLOCK_ID].to_numpy()
    hh = dict(zip(ids.tolist(), blocks[HOUSEHOLDS].astype(int).tolist(), strict=True))
    by_estate: dict[str, list[int]] = defaultdict(list)
    for bid, est in zip(ids.tolist(), member, strict=True):
        if est is not None:
            by_estate[est].append(int(bid))
    names = dict(zip(estates[ESTATE_ID], estates[ESTATE_NAME], strict=True))
    for est in estates[ESTATE_ID]:
        members = by_estate.get(est, [])
        parts = _touching_parts(members, edges)
        total = sum(hh[b] for b in members)
        entry: dict[str, Any] = {"estate_id": est, "name": names[est], "households": total, "blocks": len(members)}
        if not members:
            entry["status"] = "inside_block"
        elif total <= band.max:
            entry["status"] = "whole" if len(parts) == 1 else "whole_parts"
        else:
            entry["status"] = "estate_split"
        entry["parts"] = len(parts)
        for p, part in enumerate(parts):
            key = f"{est}#{p}"
            (plan.whole if total <= band.max else plan.oversize)[key] = part
        plan.report.append(entry)
    return plan


def _touching_parts(members: list[int], edges: pd.DataFrame) -> list[list[int]]:
    """Split a set of block ids into groups connected through shared edges."""
    if not members:
        return []
    pos = {b: i for i, b in enumerate(sorted(members))}
    a = edges["block_a"].to_numpy()
    b = edges["block_b"].to_numpy()
    keep = np.asarray([x in pos and y in pos for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=bool)
    ia = np.asarray([pos[x] for x in a[keep].tolist()], dtype=np.int64)
    ib = np.asarray([pos[y] for y in b[keep].tolist()], dtype=np.int64)
    comp = components_from_pairs(len(pos), ia, ib)
    ordered = sorted(members)
    return [[ordered[i] for i in np.flatnonzero(comp == c)] for c in np.unique(comp)]
