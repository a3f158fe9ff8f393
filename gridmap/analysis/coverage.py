"""Coverage queries: who is responsible for what, how evenly, and what nobody covers.

Why these questions: the coverage rule is "full coverage, no gaps" (全覆盖、无缝隙) and workload
"balanced across grids" (P-38). So the supervisor needs: grids without a worker; households per
worker and how unequal that is within each street (Gini: 0 = all carry the same load, 1 = one
worker carries everything); land of each community not inside any grid (m²); the share of
households within a walking distance of a service centre or worker base (G-28); and key units
and hazard sources (重点单位/危险源, G-24) with the grid and people responsible for them.

Workers serve their ``grid_code`` and any ``extra_grid_codes``; a grid served by k workers gives
each 1/k of its households. Inactive workers (``active`` false) do not count. Grid leaders
without a grid of their own lead the community, not a grid, and are left out of the loads.
Areas are measured in the working CRS in m².
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmap import schema
from gridmap.analysis.access import distances_to_facilities
from gridmap.analysis.cells import TILING_GRID_KINDS
from gridmap.crs import working_crs_for
from gridmap.model import AreaLevel, GridKind

_W = schema.WORKERS_SPEC
_G = schema.GRIDS_SPEC
_U = schema.UNITS_SPEC
STREET_CODE_LENGTH = AreaLevel.STREET.code_length
COMMUNITY_CODE_LENGTH = AreaLevel.COMMUNITY.code_length
#: Areas are reported to 0.1 m²: below that is floating-point noise of the overlay, not land.
AREA_DECIMALS = 1


def gini(values: Iterable[float]) -> float:
    """Gini coefficient of non-negative values (0 = equal; NaN for no values or an all-zero total)."""
    x = np.sort(np.asarray(list(values), dtype=float))
    n = len(x)
    if n == 0 or x.sum() <= 0:
        return float("nan")
    ranks = np.arange(1, n + 1)
    return float(2.0 * np.sum(ranks * x) / (n * x.sum()) - (n + 1.0) / n)


def _tiling(grids: pd.DataFrame) -> pd.DataFrame:
    kind = _G.column("kind").name
    if kind not in grids.columns:
        return grids
    return grids[grids[kind].isna() | grids[kind].isin(TILING_GRID_KINDS)]


def _base(grids: pd.DataFrame) -> pd.DataFrame:
    """Base grids only: dedicated grids (a school, a hospital) serve a unit, not households."""
    kind = _G.column("kind").name
    if kind not in grids.columns:
        return grids
    return grids[grids[kind].isna() | (grids[kind] == GridKind.BASE.value)]


def _extra_codes(value: Any) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value if v is not None and str(v)]
    return []


def _households(frame: pd.DataFrame) -> pd.Series:
    """The households column as floats, 0 where missing (an unknown count adds nothing)."""
    if "households" not in frame.columns:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame["households"], errors="coerce").fillna(0.0).astype(float)


def worker_assignments(workers: pd.DataFrame) -> pd.DataFrame:
    """(worker_id, grid_code) for every active worker and every grid it serves (main and extra)."""
    active_col = _W.column("active").name
    active = workers[active_col].astype("boolean").fillna(True) if active_col in workers.columns else True
    rows: list[tuple[str, str]] = []
    for worker in workers[np.asarray(active, dtype=bool)].to_dict("records"):
        codes = [worker.get(_W.column("grid_code").name)]
        codes += _extra_codes(worker.get(_W.column("extra_grid_codes").name))
        wid = str(worker[_W.column("worker_id").name])
        rows.extend((wid, str(c)) for c in dict.fromkeys(codes) if c is not None and str(c) and str(c) != "nan")
    return pd.DataFrame(rows, columns=["worker_id", "grid_code"])


def grids_without_worker(grids: pd.DataFrame, workers: pd.DataFrame) -> pd.DataFrame:
    """Tiling grids that no active worker serves: code, name, community_code, households."""
    served = set(worker_assignments(workers)["grid_code"])
    base = _tiling(grids)
    missing = base[~base["code"].astype(str).isin(served)]
    keep = [c for c in ("code", "name", "community_code", "households") if c in missing.columns]
    return pd.DataFrame(missing[keep]).sort_values("code").reset_index(drop=True)


def worker_loads(grids: pd.DataFrame, workers: pd.DataFrame) -> pd.DataFrame:
    """Per active worker with a base grid: grids served and households carried (a grid split among its workers).

    Workers of dedicated grids only are left out: their load is a unit, not households.
    """
    pairs = worker_assignments(workers)
    base = _base(grids)[["code", "households"]].astype({"code": str})
    pairs = pairs.merge(base, left_on="grid_code", right_on="code", how="inner")
    if pairs.empty:
        return pd.DataFrame(columns=["worker_id", "street_code", "grids", "households"])
    sharing = pairs.groupby("grid_code")["worker_id"].transform("count")
    pairs["share"] = _households(pairs) / sharing
    pairs["street_code"] = pairs["grid_code"].str[:STREET_CODE_LENGTH]
    loads = pairs.groupby(["worker_id", "street_code"], as_index=False).agg(
        grids=("grid_code", "count"), households=("share", "sum")
    )
    return loads.sort_values(["street_code", "worker_id"]).reset_index(drop=True)


def households_per_worker_by_street(
    grids: pd.DataFrame, workers: pd.DataFrame, streets: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per street: workers, households (all / in grids with a worker), mean/min/max per worker and Gini."""
    base = _base(grids).astype({"code": str})
    by_street = _households(base).groupby(base["code"].str[:STREET_CODE_LENGTH]).sum()
    uncovered = grids_without_worker(grids, workers)
    unc_by = _households(uncovered).groupby(uncovered["code"].astype(str).str[:STREET_CODE_LENGTH]).sum()
    loads = worker_loads(grids, workers)
    rows = []
    for street, total in by_street.items():
        load = loads.loc[loads["street_code"] == street, "households"].to_numpy(dtype=float)
        rows.append({
            "street_code": street, "workers": len(load), "households": float(total),
            "households_without_worker": float(unc_by.get(street, 0.0)),
            "households_per_worker": float(load.mean()) if len(load) else float("nan"),
            "min_per_worker": float(load.min()) if len(load) else float("nan"),
            "max_per_worker": float(load.max()) if len(load) else float("nan"),
            "gini": gini(load),
        })
    out = pd.DataFrame(rows)
    if streets is not None and len(out):
        names = streets.set_index(streets["code"].astype(str))["name"]
        out.insert(1, "street_name", out["street_code"].map(names))
    return out


def _metric(frame: gpd.GeoDataFrame, crs: Any) -> gpd.GeoSeries:
    return frame.geometry.to_crs(crs)


def uncovered_area_by_community(communities: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per community: area, area inside its grids and area in no grid (m²), and the uncovered share.

    A community's grids are the tiling grids with its ``community_code``; the part of the community
    outside their union is uncovered (a gap the coverage rule forbids).
    """
    comm = communities[communities["level"] == AreaLevel.COMMUNITY.value] if "level" in communities else communities
    if comm.empty:
        return pd.DataFrame(columns=["code", "name", "area_m2", "grid_area_m2", "uncovered_m2", "uncovered_share"])
    crs = working_crs_for(comm)
    comm_m = _metric(comm, crs)
    base = _tiling(grids)
    base_m = _metric(base, crs) if len(base) else gpd.GeoSeries([], crs=crs)
    owner = base["community_code"].astype(str).to_numpy() if len(base) else np.array([], dtype=str)
    rows = []
    for code, name, shape in zip(comm["code"].astype(str), comm["name"], comm_m, strict=True):
        parts = base_m.to_numpy()[owner == code]
        covered = shapely.union_all(parts) if len(parts) else shapely.Polygon()
        gap = shapely.difference(shape, covered)
        area = float(shapely.area(shape))
        uncovered = round(float(shapely.area(gap)), AREA_DECIMALS)
        rows.append({"code": code, "name": name, "area_m2": round(area, AREA_DECIMALS),
                     "grid_area_m2": round(float(shapely.area(shapely.intersection(shape, covered))), AREA_DECIMALS),
                     "uncovered_m2": uncovered, "uncovered_share": uncovered / area if area > 0 else float("nan")})
    return pd.DataFrame(rows).sort_values("code").reset_index(drop=True)


def households_within_distance(
    buildings: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    distance_m: float,
    *,
    method: str = "network",
    roads: gpd.GeoDataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per building: community, households and metres to the nearest facility; plus the overall share.

    Returns (frame with ``building_id``, ``community_code``, ``households``, ``distance_m``,
    ``within``; summary with ``households``, ``households_within``, ``share_within``).
    """
    crs = working_crs_for(buildings)
    distance = distances_to_facilities(
        buildings.geometry, facilities.geometry, crs=crs, method=method,
        roads=None if roads is None else roads.geometry, cutoff_m=distance_m,
    )
    hh = _households(buildings).to_numpy()
    frame = pd.DataFrame({
        "building_id": buildings.get("building_id", pd.Series(range(len(buildings)))).astype(str).to_numpy(),
        "community_code": buildings.get("community_code", pd.Series([None] * len(buildings))).to_numpy(),
        "households": hh, "distance_m": distance, "within": distance <= distance_m,
    })
    total, within = float(hh.sum()), float(hh[distance <= distance_m].sum())
    return frame, {"distance_m": float(distance_m), "method": method, "households": total,
                   "households_within": within, "share_within": within / total if total > 0 else float("nan")}


def share_within_by_area(access: pd.DataFrame, *, code_length: int = COMMUNITY_CODE_LENGTH) -> pd.DataFrame:
    """Households and share within the distance per community (or street with ``code_length=9``)."""
    codes = access["community_code"].astype("string").fillna("").str[:code_length]
    grouped = access.assign(code=codes, near=access["households"] * access["within"]).groupby("code")
    out = grouped.agg(households=("households", "sum"), households_within=("near", "sum")).reset_index()
    out["share_within"] = np.where(out["households"] > 0, out["households_within"] / out["households"], np.nan)
    return out[out["code"] != ""].reset_index(drop=True)


def _grid_of_points(grids: gpd.GeoDataFrame, points: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    out = np.full(len(points), -1, dtype=np.int64)
    if len(grids) == 0 or len(points) == 0:
        return out
    pidx, gidx = grids.sindex.query(points, predicate="intersects")
    order = np.lexsort((gidx, pidx))
    pidx, gidx = pidx[order], gidx[order]
    first = np.r_[True, pidx[1:] != pidx[:-1]] if len(pidx) else np.zeros(0, dtype=bool)
    out[pidx[first]] = gidx[first]
    return out


def _joined(values: pd.Series) -> str:
    return "、".join(str(v) for v in values if v is not None and not pd.isna(v))


def key_units_with_responsibility(
    units: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, workers: pd.DataFrame
) -> pd.DataFrame:
    """Key units and hazard sources (``key_unit`` true) with their grid, responsible person and grid workers."""
    flag = _U.column("key_unit").name
    key = units[units[flag].astype("boolean").fillna(False).to_numpy(dtype=bool)] if flag in units else units.iloc[0:0]
    base = _tiling(grids).reset_index(drop=True)
    points = key.geometry.representative_point().to_numpy() if len(key) else np.array([], dtype=object)
    idx = _grid_of_points(base, points)
    pairs = worker_assignments(workers).merge(
        workers[[_W.column("worker_id").name, "name", "phone"]].astype({"worker_id": str}), on="worker_id"
    )
    by_grid = pairs.groupby("grid_code").agg(_joined)
    rows = []
    for i, unit in enumerate(key.drop(columns=key.geometry.name).to_dict("records")):
        grid = base.iloc[idx[i]] if idx[i] >= 0 else None
        code = str(grid["code"]) if grid is not None else None
        staff = by_grid.loc[code] if code is not None and code in by_grid.index else None
        rows.append({
            "unit_id": unit.get("unit_id"), "name": unit.get("name"), "unit_type": unit.get("unit_type"),
            "responsible_person": unit.get("responsible_person"), "grid_code": code,
            "grid_name": None if grid is None else grid.get("name"),
            "community_code": unit.get("community_code") or (None if code is None else code[:COMMUNITY_CODE_LENGTH]),
            "grid_workers": None if staff is None else staff["name"],
            "grid_worker_phones": None if staff is None else staff["phone"],
        })
    return pd.DataFrame(rows, columns=["unit_id", "name", "unit_type", "responsible_person", "grid_code", "grid_name",
                                       "community_code", "grid_workers", "grid_worker_phones"])
