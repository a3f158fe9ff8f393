"""Synthetic grid workers (网格员) and grid leaders (网格长) for the demo.

Staffing follows the seeds: one full-time worker per grid ("一格一员", R-2), a grid leader per
community (二级网格长, H-4) who leads all its grids, and part-time workers in some grids (R-2;
R-13 reports ~1.6 staff per grid). A/B posts (P-54) pair full-time workers of adjacent grids in
mutual pairs, as many as the grid graph allows (a worker left over has no partner). Everything personal
is fake and looks fake: generated names, phones 1380000xxxx, device ids DEMOnnnnnn, photo names
``<worker_id>.png`` for which ``gridmap demo`` draws silhouettes stamped SYNTHETIC (gridmap.demo.photos).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import schema
from gridmap.demo.frames import typed_frame
from gridmap.demo.names import NameFactory
from gridmap.errors import ValidationError
from gridmap.model import WorkerRole

PART_TIME_SHARE = 0.3
HOUSEHOLDS_PER_WORKER = 350  # community-only mode: workers per community = households / this
DUTIES = {
    WorkerRole.GRID_LEADER: "统筹本社区各网格，调度派遣，兼任坐席员",
    WorkerRole.FULL_TIME: "信息采集、矛盾调解、安全巡查、政策宣传、便民服务",
    WorkerRole.PART_TIME: "协助巡查、信息上报、入户走访",
}
MAX_PHONES = 10_000


def adjacent_pairs(geoms: gpd.GeoSeries) -> list[tuple[int, int, float]]:
    """(i, j, shared boundary length) for polygons that share an edge, i < j (storage units)."""
    arr = np.asarray(geoms.values, dtype=object)
    if len(arr) < 2:
        return []
    i, j = shapely.STRtree(arr).query(arr, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(arr[i]), shapely.boundary(arr[j])))
    return [(int(a), int(b), float(s)) for a, b, s in zip(i, j, shared, strict=True) if s > 0]


def partners_from_adjacency(n: int, pairs: list[tuple[int, int, float]], *, group: list[str]) -> list[int | None]:
    """A partner index per item: mutual A/B pairs of neighbours (P-54), as many as the adjacency allows.

    A maximum-cardinality matching (networkx) weighted towards pairs in the same group (community),
    then towards longer shared edges. A/B posts are mutual, and the registry check refuses one-way
    partners, so an item left over (an odd count of neighbours, or none) gets None.
    """
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    longest = max((length for *_, length in pairs), default=0.0) or 1.0
    for a, b, length in sorted(pairs):
        same = group[a] == group[b]
        graph.add_edge(a, b, weight=(2.0 if same else 1.0) + length / longest)  # same community first
    partner: list[int | None] = [None] * n
    for a, b in nx.max_weight_matching(graph, maxcardinality=True):
        partner[a], partner[b] = b, a
    return partner


def _worker(
    worker_id: str, role: WorkerRole, grid_code: str | None, names: NameFactory, *, extra: list[str] | None = None
) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "name": names.person(),
        "photo": f"{worker_id}.png",  # in the photo folder; `gridmap demo` draws a labelled placeholder
        "role": role.value,
        "grid_code": grid_code,
        "extra_grid_codes": extra or [],
        "duties": DUTIES[role],
        "active": True,
        "synthetic": True,
    }


def workers_for_grids(
    grids_gdf: gpd.GeoDataFrame | None, communities_gdf: gpd.GeoDataFrame, *, rng: np.random.Generator
) -> pd.DataFrame:
    """Workers (schema.WORKERS_SPEC columns) for the grids, or per community when there are no grids.

    With grids: a leader per community (main grid = its first grid, the rest in extra_grid_codes),
    one full-time worker per grid, a part-time one in ~30 % of grids, A/B partners across adjacent
    grids. Without grids (``grids_gdf`` None or empty): a leader and households/350 full-time
    workers per community, no grid codes, partners paired inside the community.
    """
    names = NameFactory(rng)
    if grids_gdf is None or grids_gdf.empty:
        records = _community_workers(communities_gdf, names)
    else:
        records = _grid_workers(grids_gdf, communities_gdf, names, rng)
    if len(records) > MAX_PHONES:
        raise ValidationError(f"demo workers: {len(records)} workers exceed the {MAX_PHONES} fake phone numbers")
    for k, r in enumerate(records):
        r["phone"] = f"1380000{k:04d}"
        r["device_id"] = f"DEMO{k + 1:06d}"
    return typed_frame(schema.WORKERS_SPEC, records)


def _grid_workers(
    grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, names: NameFactory, rng: np.random.Generator
) -> list[dict[str, Any]]:
    grids = grids.sort_values("code", kind="stable").reset_index(drop=True)
    codes = [str(c) for c in grids["code"]]
    by_community: dict[str, list[str]] = {}
    for code, community in zip(codes, grids["community_code"], strict=True):
        by_community.setdefault(str(community), []).append(code)
    records: list[dict[str, Any]] = []
    for community in sorted(set(communities["code"].astype(str)) & set(by_community)):
        mine = by_community[community]
        records.append(_worker(f"GL{community}", WorkerRole.GRID_LEADER, mine[0], names, extra=mine[1:]))
    full = [_worker(f"GW{code}", WorkerRole.FULL_TIME, code, names) for code in codes]
    partner = partners_from_adjacency(len(codes), adjacent_pairs(grids.geometry),
                                      group=[str(c) for c in grids["community_code"]])
    for k, p in enumerate(partner):
        full[k]["partner_worker_id"] = None if p is None else full[p]["worker_id"]
    records.extend(full)
    part = [code for code in codes if rng.random() < PART_TIME_SHARE]
    records.extend(_worker(f"PT{code}", WorkerRole.PART_TIME, code, names) for code in part)
    return records


def _community_workers(communities: gpd.GeoDataFrame, names: NameFactory) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for _, row in communities.sort_values("code", kind="stable").iterrows():
        code = str(row["code"])
        households = 0 if pd.isna(row.get("households")) else int(row["households"])
        records.append(_worker(f"GL{code}", WorkerRole.GRID_LEADER, None, names))
        team = [_worker(f"GW{code}{k + 1:03d}", WorkerRole.FULL_TIME, None, names)
                for k in range(max(1, round(households / HOUSEHOLDS_PER_WORKER)))]
        for k, w in enumerate(team):  # mutual pairs (0, 1), (2, 3)...; an odd last one has none
            mate = k + 1 if k % 2 == 0 else k - 1
            w["partner_worker_id"] = team[mate]["worker_id"] if mate < len(team) else None
        records.extend(team)
    return records
