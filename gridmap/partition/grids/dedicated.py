"""Dedicated grids (专属网格) for units: schools, hospitals, markets, enterprises, parks, towers (P-29).

The rules of P-29, with the thresholds made explicit in :class:`DedicatedRules`:

* a unit at or near the standard (households-equivalent >= ``min_share * band.min``, where
  households-equivalent = households + persons / persons-per-household), or with a site of at
  least ``area_threshold_m2`` (the area criterion of P-9), becomes **one** dedicated grid, however
  large (the unit subdivides it internally);
* small units whose sites lie within ``cluster_distance_m`` of each other (single linkage) are
  merged into one dedicated grid when together they reach the standard;
* small scattered units stay in the base grid.

A unit's site is its polygon, or for a point the building containing it, or else a circle of
``point_site_radius_m``; the site is clipped to the community and moved off buildings: a building
whose representative point is in the site joins it whole, any other building is cut out of it.
Dedicated grids are carved out of the community; the base grids tile the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import ValidationError
from gridmap.model import UnitType
from gridmap.partition.blocks.faces import components_from_pairs
from gridmap.partition.problem import Band
from gridmap.schema import UNITS_SPEC

UNIT_ID = UNITS_SPEC.column("unit_id").name
UNIT_NAME = UNITS_SPEC.column("name").name
UNIT_TYPE = UNITS_SPEC.column("unit_type").name
PERSONS = UNITS_SPEC.column("persons").name
UNIT_HOUSEHOLDS = UNITS_SPEC.column("households").name


@dataclass(frozen=True)
class DedicatedRules:
    """Thresholds of P-29 (units: households-equivalent, m², metres)."""

    min_share: float = 0.8
    area_threshold_m2: float = 50_000.0
    cluster_distance_m: float = 150.0
    point_site_radius_m: float = 25.0

    def __post_init__(self) -> None:
        if self.min_share <= 0 or self.area_threshold_m2 <= 0 or self.cluster_distance_m < 0:
            raise ValidationError("dedicated grid rules: shares, areas and distances must be positive")


@dataclass
class DedicatedGrid:
    """One dedicated grid: its site (metric CRS) and the unit(s) it serves."""

    geometry: BaseGeometry
    unit_ids: list[str]
    unit_names: list[str]
    subtype: str
    households_equivalent: float
    persons: int
    reason: str  # "standard" | "area" | "cluster"


@dataclass
class DedicatedPlan:
    grids: list[DedicatedGrid] = field(default_factory=list)
    kept_in_base: list[str] = field(default_factory=list)
    report: list[dict[str, Any]] = field(default_factory=list)

    @property
    def area(self) -> BaseGeometry:
        """Union of all dedicated sites (to be cut out of the base area)."""
        return shapely.union_all(np.asarray([g.geometry for g in self.grids], dtype=object))


def units_from_input(units: gpd.GeoDataFrame | None, *, crs: pyproj.CRS, source: str = "units") -> gpd.GeoDataFrame:
    """Units in the working CRS with validated ``unit_type`` and numeric persons/households (NaN -> 0)."""
    if units is None or len(units) == 0:
        return gpd.GeoDataFrame({UNIT_ID: [], UNIT_NAME: [], UNIT_TYPE: []}, geometry=[], crs=crs)
    if units.crs is None:
        raise ValidationError(f"{source}: the unit layer has no CRS")
    frame = units.to_crs(crs).reset_index(drop=True)
    if UNIT_TYPE not in frame.columns:
        raise ValidationError(f"{source}: units need a '{UNIT_TYPE}' column ({', '.join(t.value for t in UnitType)})")
    if UNIT_ID not in frame.columns:
        frame[UNIT_ID] = [f"unit{i + 1}" for i in range(len(frame))]
    frame[UNIT_ID] = frame[UNIT_ID].astype(str)
    if UNIT_NAME not in frame.columns:
        frame[UNIT_NAME] = frame[UNIT_ID]
    frame[UNIT_NAME] = frame[UNIT_NAME].fillna(frame[UNIT_ID]).astype(str)
    valid = {t.value for t in UnitType}
    bad = frame.loc[~frame[UNIT_TYPE].astype(str).isin(valid), UNIT_ID].tolist()
    if bad:
        raise ValidationError(
            f"{source}: unknown unit_type for unit(s) {', '.join(bad[:10])}; expected one of {', '.join(sorted(valid))}"
        )
    for col in (PERSONS, UNIT_HOUSEHOLDS):
        if col in frame.columns:
            values = pd.to_numeric(frame[col], errors="coerce")
        else:
            values = pd.Series(0.0, index=frame.index)
        if (values < 0).any():
            ids = ", ".join(frame.loc[values < 0, UNIT_ID][:10])
            raise ValidationError(f"{source}: negative {col} for unit(s) {ids}; counts must be 0 or more")
        frame[col] = values.fillna(0.0).astype(float)
    return frame


def _site_of_unit(
    geom: BaseGeometry, boundary: BaseGeometry, buildings: np.ndarray, *, radius_m: float
) -> BaseGeometry:
    """The unit's site: its polygon, the building under its point, or a circle; inside the community."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        site = geom
    else:
        point = shapely.point_on_surface(geom)
        under = [b for b in buildings if b.area > 0 and b.covers(point)] if len(buildings) else []
        site = under[0] if under else point.buffer(radius_m)
    return shapely.intersection(site, boundary)


def _off_buildings(site: BaseGeometry, buildings: np.ndarray, rep: np.ndarray) -> BaseGeometry:
    """Move the site's edge off buildings: those with their point inside join whole, others leave."""
    if len(buildings) == 0 or site.is_empty:
        return site
    hit = shapely.STRtree(buildings).query(site, predicate="intersects")
    polys = [i for i in hit.tolist() if buildings[i].area > 0]
    inside = [buildings[i] for i in polys if site.covers(rep[i])]
    outside = [buildings[i] for i in polys if not site.covers(rep[i])]
    if inside:
        site = shapely.union_all(np.asarray([site, *inside], dtype=object))
    if outside:
        site = shapely.difference(site, shapely.union_all(np.asarray(outside, dtype=object)))
    return site


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0]
    return shapely.union_all(np.asarray(parts, dtype=object)) if parts else shapely.Polygon()


def plan_dedicated(
    units: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    boundary: BaseGeometry,
    *,
    band: Band,
    persons_per_household: float,
    rules: DedicatedRules | None = None,
) -> DedicatedPlan:
    """Decide the dedicated grids of a community (all geometry in the same metric CRS).

    ``units`` come from :func:`units_from_input`; ``buildings`` are the community's buildings.
    Sites never overlap: bigger units claim first. Returns the grids, the unit ids left in the
    base grid and a report entry per unit.
    """
    rules = rules or DedicatedRules()
    plan = DedicatedPlan()
    if len(units) == 0:
        return plan
    bgeo = np.asarray(buildings.geometry.values, dtype=object)
    brep = shapely.point_on_surface(bgeo)
    heq = units[UNIT_HOUSEHOLDS].to_numpy() + units[PERSONS].to_numpy() / persons_per_household
    sites = [_site_of_unit(g, boundary, bgeo, radius_m=rules.point_site_radius_m) for g in units.geometry]
    claimed: BaseGeometry = shapely.Polygon()
    for i in np.argsort(-heq, kind="stable"):
        moved = shapely.intersection(_off_buildings(sites[i], bgeo, brep), boundary)
        site = _polygonal(shapely.difference(moved, claimed))
        sites[i] = site
        claimed = shapely.union(claimed, site)
    standard = rules.min_share * band.min
    big = np.asarray([heq[i] >= standard or sites[i].area >= rules.area_threshold_m2 for i in range(len(units))])
    has_site = np.asarray([not s.is_empty for s in sites])
    for i in np.flatnonzero(big & has_site):
        reason = "standard" if heq[i] >= standard else "area"
        plan.grids.append(_grid_of(units, [int(i)], sites, heq, reason))
    small = np.flatnonzero(~big & has_site)
    for group in _clusters(small, sites, rules.cluster_distance_m):
        if len(group) > 1 and heq[group].sum() >= standard:
            plan.grids.append(_grid_of(units, group, sites, heq, "cluster"))
        else:
            plan.kept_in_base.extend(units[UNIT_ID].iloc[group].tolist())
    plan.kept_in_base.extend(units[UNIT_ID].iloc[np.flatnonzero(~has_site)].tolist())
    plan.report = _report(units, sites, heq, plan)
    return plan


def _clusters(idx: np.ndarray, sites: list[BaseGeometry], distance_m: float) -> list[list[int]]:
    """Single-linkage groups of units whose sites lie within ``distance_m`` of each other."""
    if len(idx) == 0:
        return []
    geoms = np.asarray([sites[i] for i in idx], dtype=object)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=distance_m)
    keep = a < b
    comp = components_from_pairs(len(idx), a[keep].astype(np.int64), b[keep].astype(np.int64))
    return [[int(idx[j]) for j in np.flatnonzero(comp == c)] for c in np.unique(comp)]


def _grid_of(
    units: gpd.GeoDataFrame, members: list[int], sites: list[BaseGeometry], heq: np.ndarray, reason: str
) -> DedicatedGrid:
    """A dedicated grid for ``members``; its subtype is the type of its biggest unit."""
    biggest = max(members, key=lambda i: (heq[i], -i))
    return DedicatedGrid(
        geometry=shapely.union_all(np.asarray([sites[i] for i in members], dtype=object)),
        unit_ids=units[UNIT_ID].iloc[members].tolist(),
        unit_names=units[UNIT_NAME].iloc[members].tolist(),
        subtype=str(units[UNIT_TYPE].iloc[biggest]),
        households_equivalent=round(float(heq[members].sum()), 1),
        persons=int(units[PERSONS].iloc[members].sum()),
        reason=reason,
    )


def _report(
    units: gpd.GeoDataFrame, sites: list[BaseGeometry], heq: np.ndarray, plan: DedicatedPlan
) -> list[dict[str, Any]]:
    grid_of = {u: k for k, g in enumerate(plan.grids) for u in g.unit_ids}
    out = []
    for i, uid in enumerate(units[UNIT_ID].tolist()):
        k = grid_of.get(uid)
        out.append(
            {
                "unit_id": uid,
                "name": units[UNIT_NAME].iloc[i],
                "unit_type": str(units[UNIT_TYPE].iloc[i]),
                "households_equivalent": round(float(heq[i]), 1),
                "site_area_m2": round(float(sites[i].area), 1),
                "dedicated": k is not None,
                "reason": plan.grids[k].reason if k is not None else ("no_site" if sites[i].is_empty else "small"),
            }
        )
    return out
