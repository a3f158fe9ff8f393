"""Re-linking on activation (同步调整, P-45): workers and open incidents follow the new grids.

Why in the activation transaction: between "the new boundaries are live" and "the records point at
them" nothing may be visible, or a worker would be shown responsible for a grid that no longer
exists and a case would sit in a retired grid's queue. ``generations.activate_generation`` calls
:func:`relink_on_activation` inside its transaction, so activation and re-linking commit or roll
back together.

Rules:

* **open incidents** (not closed, evaluated or rejected) of the community are re-linked **by
  location**: the tiling grid (base or dedicated) of the new generation holding the incident's point;
  on a shared edge the smallest code wins (the lookup's rule). Closed incidents keep the grid they
  were handled in: that is history. An incident whose point lies in no new grid keeps its code and
  is listed as unresolved.
* **workers**: a grid code that the new generation still has is kept; a code that disappeared maps to
  the new grid with the **largest overlap** (m²) with the old grid's area, among grids of the same
  kind first. Main grid and extra grids (``extra_grid_codes``) alike; duplicates are dropped.

Incident ``version`` is not bumped and no incident event is written: re-linking changes where a case
is filed, not its handling, and the event log's ``seq`` must stay equal to the handling steps.
The report lists every record changed; the audit log keeps the counts and the worker changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import audit, schema
from gridmap.crs import working_crs_for
from gridmap.model import GridKind
from gridmap.store.base import StoreTransaction

#: Statuses of incidents that are done with; they keep their grid (gridmap.incidents.workflow).
CLOSED_INCIDENT_STATUSES: frozenset[str] = frozenset({"closed", "evaluated", "rejected"})
#: Grid kinds that tile a community: an incident is filed under one of these.
TILING_KINDS: frozenset[str] = frozenset({GridKind.BASE.value, GridKind.DEDICATED.value})
#: Re-linked incidents listed in the audit row (the full list is in the returned report).
AUDIT_LISTED = 1000


@dataclass(frozen=True)
class IncidentLink:
    incident_id: str
    old_grid_code: str | None
    new_grid_code: str


@dataclass(frozen=True)
class WorkerLink:
    worker_id: str
    field: str  # "grid_code" or "extra_grid_codes"
    old: Any
    new: Any


@dataclass
class RelinkReport:
    """Every record re-linked by one activation, and what could not be placed."""

    community_code: str
    generation_id: int
    retired_generation_id: int | None
    code_map: dict[str, str | None] = field(default_factory=dict)
    incidents: list[IncidentLink] = field(default_factory=list)
    workers: list[WorkerLink] = field(default_factory=list)
    unresolved: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "incidents": len(self.incidents),
            "workers": len({w.worker_id for w in self.workers}),
            "unresolved": len(self.unresolved),
        }

    def to_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        """JSON-ready; ``limit`` caps the listed incidents (the counts always cover all of them)."""
        listed = self.incidents if limit is None else self.incidents[:limit]
        return {
            "community_code": self.community_code,
            "generation_id": self.generation_id,
            "retired_generation_id": self.retired_generation_id,
            "counts": self.counts,
            "code_map": dict(self.code_map),
            "incidents": [asdict(i) for i in listed],
            "incidents_truncated": len(listed) < len(self.incidents),
            "workers": [asdict(w) for w in self.workers],
            "unresolved": list(self.unresolved),
        }


def code_map_from_grids(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> dict[str, str | None]:
    """Old code -> new code: the same code when it survives, else the new grid overlapping it most
    (m², same kind preferred); None when nothing overlaps."""
    new_codes = {str(c) for c in new["code"]}
    out: dict[str, str | None] = {}
    gone = old.loc[~old["code"].astype(str).isin(new_codes)]
    for code in old["code"].astype(str):
        out[code] = code if code in new_codes else None
    if gone.empty or new.empty:
        return out
    crs = working_crs_for(pd.concat([gone.geometry, new.geometry]).pipe(gpd.GeoSeries, crs=new.crs))
    old_m = gone.to_crs(crs)
    new_m = new.to_crs(crs)
    new_geoms = np.asarray(new_m.geometry.values, dtype=object)
    tree = shapely.STRtree(new_geoms)
    kinds = new_m["kind"].astype(str).to_numpy()
    codes = new_m["code"].astype(str).to_numpy()
    for _, row in old_m.iterrows():
        hits = tree.query(row.geometry, predicate="intersects")
        if len(hits) == 0:
            continue
        areas = shapely.area(shapely.intersection(new_geoms[hits], row.geometry))
        same = kinds[hits] == str(row["kind"])
        order = np.lexsort((codes[hits], -areas, ~same))
        best = hits[order[0]]
        if float(shapely.area(shapely.intersection(new_geoms[best], row.geometry))) > 0:
            out[str(row["code"])] = str(codes[best])
    return out


def relink_on_activation(
    tx: StoreTransaction,
    *,
    community_code: str,
    generation_id: int,
    retired_generation_id: int | None,
    actor: str | None = None,
) -> RelinkReport:
    """Re-link open incidents and workers of ``community_code`` to ``generation_id``'s grids, in ``tx``."""
    new = _grids(tx, generation_id)
    old = _grids(tx, retired_generation_id) if retired_generation_id is not None else new.iloc[0:0]
    report = RelinkReport(community_code, generation_id, retired_generation_id, code_map_from_grids(old, new))
    _relink_incidents(tx, community_code, new, report)
    _relink_workers(tx, community_code, report)
    audit.record(
        tx,
        "generation.relink",
        actor=actor,
        target=f"{community_code}#{generation_id}",
        detail=report.to_dict(limit=AUDIT_LISTED),
    )
    return report


def _grids(tx: StoreTransaction, generation_id: int) -> gpd.GeoDataFrame:
    grids = tx.read(schema.GRIDS, where={"generation_id": generation_id},
                    columns=["code", "kind", "community_code", schema.GEOMETRY])  # fmt: skip
    assert isinstance(grids, gpd.GeoDataFrame)
    return grids


def _open_incidents(tx: StoreTransaction, community_code: str) -> gpd.GeoDataFrame:
    """Open incidents filed under the community, or under no community at all (one read)."""
    cols = ["incident_id", "status", "grid_code", "community_code", schema.GEOMETRY]
    frame = tx.read(schema.INCIDENTS, where={"community_code": [community_code, None]}, columns=cols)
    frame = frame.loc[~frame["status"].astype(str).isin(CLOSED_INCIDENT_STATUSES)]
    return gpd.GeoDataFrame(frame, geometry=schema.GEOMETRY, crs=getattr(frame, "crs", None))


def _relink_incidents(tx: StoreTransaction, community_code: str, new: gpd.GeoDataFrame, report: RelinkReport) -> None:
    """Set each open incident's grid_code to the new tiling grid holding its point (bulk, per code).

    Incidents without a community code are only this community's business when their point lies in
    one of its new grids or they were filed under one of its old codes.
    """
    incidents = _open_incidents(tx, community_code)
    if incidents.empty:
        return
    tiling = new.loc[new["kind"].astype(str).isin(TILING_KINDS)]
    tiling = tiling.sort_values("code", kind="stable").reset_index(drop=True)
    codes = tiling["code"].astype(str).to_numpy()
    points = np.asarray(incidents.geometry.values, dtype=object)
    has_point = ~(shapely.is_missing(points) | shapely.is_empty(points))
    p_idx, g_idx = shapely.STRtree(np.asarray(tiling.geometry.values, dtype=object)).query(
        points[has_point], predicate="intersects"
    )
    best = np.full(int(has_point.sum()), len(codes), dtype=np.int64)
    np.minimum.at(best, p_idx, g_idx)  # smallest code on a shared edge
    target = np.full(len(points), None, dtype=object)
    found = best < len(codes)
    target[np.flatnonzero(has_point)[found]] = codes[best[found]]
    by_code: dict[str, list[int]] = defaultdict(list)
    ids = incidents["incident_id"].astype(str).to_numpy()
    fids = incidents[schema.FID].to_numpy(dtype=np.int64)
    current = [None if pd.isna(c) else str(c) for c in incidents["grid_code"]]
    ours = (incidents["community_code"].astype("string") == community_code).fillna(False).to_numpy(dtype=bool)
    for i, (iid, old, new_code) in enumerate(zip(ids, current, target, strict=True)):
        if new_code is None:
            if ours[i] or old in report.code_map:
                reason = "no point" if not has_point[i] else "its point lies in no grid of the new generation"
                report.unresolved.append({"kind": "incident", "id": str(iid), "grid_code": old, "reason": reason})
        elif new_code != old:
            by_code[str(new_code)].append(int(fids[i]))
            report.incidents.append(IncidentLink(str(iid), old, str(new_code)))
    for code, chunk in by_code.items():
        tx.update(schema.INCIDENTS, {schema.FID: chunk}, {"grid_code": code})


def _mapped(code: Any, code_map: Mapping[str, str | None]) -> tuple[str | None, bool]:
    """(new code, known): a code of the community maps through ``code_map``; others stay."""
    text = None if code is None or (isinstance(code, float) and np.isnan(code)) else str(code)
    if text is None or text not in code_map:
        return text, True
    new = code_map[text]
    return new, new is not None


def _relink_workers(tx: StoreTransaction, community_code: str, report: RelinkReport) -> None:
    """Workers whose main or extra grid disappeared move to the grid that overlaps it most."""
    if not any(old != new for old, new in report.code_map.items()):
        return
    workers = tx.read(schema.WORKERS, columns=["worker_id", "grid_code", "extra_grid_codes"])
    for _, w in workers.iterrows():
        wid = str(w["worker_id"])
        main, main_ok = _mapped(w["grid_code"], report.code_map)
        extras_raw = w["extra_grid_codes"] if isinstance(w["extra_grid_codes"], list) else []
        extras: list[str] = []
        for code in extras_raw:
            new, ok = _mapped(code, report.code_map)
            if not ok:
                report.unresolved.append({"kind": "worker", "id": wid, "grid_code": code,
                                          "reason": "the grid disappeared and no new grid overlaps it"})
            elif new is not None and new != main and new not in extras:
                extras.append(new)
        if not main_ok:
            report.unresolved.append({"kind": "worker", "id": wid, "grid_code": w["grid_code"],
                                      "reason": "the grid disappeared and no new grid overlaps it"})
            main = None if pd.isna(w["grid_code"]) else str(w["grid_code"])
        values: dict[str, Any] = {}
        if main != (None if pd.isna(w["grid_code"]) else str(w["grid_code"])):
            values["grid_code"] = main
            report.workers.append(WorkerLink(wid, "grid_code", w["grid_code"], main))
        if extras != list(extras_raw):
            values["extra_grid_codes"] = extras
            report.workers.append(WorkerLink(wid, "extra_grid_codes", list(extras_raw), extras))
        if values:
            tx.update(schema.WORKERS, {"worker_id": wid}, values)
