"""The workers registry (网格员台账): who serves which grid, their A/B partner and their phone's device id.

The file import itself is the io pipeline's (``gridmap.io.prepare``: column aliases, typing, role and
duplicate checks); this module adds the registry's own rules and runs them against the *active* grids
before anything is written, in the same all-or-nothing transaction:

* ``role`` may be the enum value or the Chinese title (网格长, 专职网格员, 兼职网格员);
* ``grid_code`` and every ``extra_grid_codes`` entry must be an active grid;
* ``partner_worker_id`` (A/B posts, P-54) must name another worker whose grid *shares an edge* with this
  worker's grid (a corner touch is not a neighbour), and a partner naming a partner must name back;
* a ``device_id`` is carried by one active worker only (the tracker must know whose fix it is).

Rows whose ``worker_id`` is stored already replace the stored row (an updated roster is re-imported
as a whole), so an import is also how a worker moves grid or gets a new phone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import audit, schema
from gridmap.auth.principal import Principal, require_role
from gridmap.config import Settings
from gridmap.crs import working_crs_for
from gridmap.errors import NotFoundError, ValidationError
from gridmap.io import columns, prepare
from gridmap.model import Role, WorkerRole
from gridmap.services.generations import active_grids
from gridmap.services.importing import raise_feature_problems, rows_for_store
from gridmap.store.base import Store, StoreTransaction
from gridmap.tracking.devices import own_grids_of

#: Chinese titles accepted for ``role`` (what rosters in 街道 offices say).
ROLE_TITLES: Mapping[str, str] = {
    "网格长": WorkerRole.GRID_LEADER.value,
    "专职网格员": WorkerRole.FULL_TIME.value, "专职": WorkerRole.FULL_TIME.value,
    "兼职网格员": WorkerRole.PART_TIME.value, "兼职": WorkerRole.PART_TIME.value,
}
#: Roles that may read the registry (admins always may); the public sees the lookup's contact fields only.
REGISTRY_ROLES: tuple[Role, ...] = (Role.COMMAND, Role.ANALYST, Role.PLANNER)
#: Two grids are neighbours when their boundaries run together for at least this long (metres).
MIN_SHARED_EDGE_M = 10.0
#: Boundaries closer than this count as shared (digitising noise), metres.
EDGE_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class RegistryProblem:
    """One broken registry rule, naming the worker and the rule."""

    worker_id: str
    rule: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class WorkerImportReport:
    path: str
    read: int = 0
    added: int = 0
    replaced: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"Imported {self.added + self.replaced} worker(s) from {Path(self.path).name}: {self.added} new, "
                f"{self.replaced} updated.")


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def neighbours_from_grids(grids: gpd.GeoDataFrame, *, min_shared_m: float = MIN_SHARED_EDGE_M
                          ) -> dict[str, set[str]]:
    """code -> codes of grids sharing at least ``min_shared_m`` metres of boundary (metric working CRS)."""
    if grids.empty:
        return {}
    metric = grids.to_crs(working_crs_for(tuple(float(b) for b in grids.total_bounds)))
    geoms = np.asarray(metric.geometry.values, dtype=object)
    codes = metric["code"].astype(str).tolist()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=EDGE_TOLERANCE_M)
    found: dict[str, set[str]] = {c: set() for c in codes}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = shapely.intersection(shapely.boundary(geoms[i]), shapely.buffer(shapely.boundary(geoms[j]),
                                                                                 EDGE_TOLERANCE_M))
        if shapely.length(shared) >= min_shared_m:
            found[codes[i]].add(codes[j])
            found[codes[j]].add(codes[i])
    return found


def _rows(workers: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in workers.to_dict("records")]


def registry_problems(workers: pd.DataFrame, grids: gpd.GeoDataFrame) -> list[RegistryProblem]:
    """Every registry rule (module docstring) checked over ``workers`` against the active ``grids``."""
    active_codes = set(grids["code"].astype(str)) if len(grids) else set()
    neighbours = neighbours_from_grids(grids)
    rows = _rows(workers)
    by_id = {str(r["worker_id"]): r for r in rows}
    problems: list[RegistryProblem] = []
    devices: dict[str, str] = {}
    for row in rows:
        wid, grid = str(row["worker_id"]), _text(row.get("grid_code"))
        if _text(row.get("role")) not in {r.value for r in WorkerRole}:
            problems.append(RegistryProblem(wid, "unknown_role", f"worker {wid}: role {row.get('role')!r} is not one "
                                            "of grid_leader, full_time, part_time (网格长, 专职网格员, 兼职网格员)"))
        if grid is not None and grid not in active_codes:
            problems.append(RegistryProblem(wid, "grid_not_active", f"worker {wid}: grid {grid} is not an active grid"))
        for extra in sorted(own_grids_of(None, row.get("extra_grid_codes")) - active_codes):
            problems.append(RegistryProblem(wid, "extra_grid_not_active",
                                            f"worker {wid}: extra grid {extra} is not an active grid"))
        problems += _partner_problems(wid, row, by_id, neighbours)
        device = _text(row.get("device_id"))
        active = row.get("active")
        if device is not None and (active is None or pd.isna(active) or bool(active)):
            if device in devices:
                problems.append(RegistryProblem(wid, "duplicate_device", f"worker {wid}: device {device} is carried "
                                                f"by worker {devices[device]} already"))
            devices.setdefault(device, wid)
    return problems


def _partner_problems(wid: str, row: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]],
                      neighbours: Mapping[str, set[str]]) -> list[RegistryProblem]:
    partner_id = _text(row.get("partner_worker_id"))
    if partner_id is None:
        return []
    if partner_id == wid:
        return [RegistryProblem(wid, "partner_self", f"worker {wid}: an A/B partner must be another worker")]
    partner = by_id.get(partner_id)
    if partner is None:
        return [RegistryProblem(wid, "partner_unknown", f"worker {wid}: partner {partner_id} is not in the registry")]
    grid, other = _text(row.get("grid_code")), _text(partner.get("grid_code"))
    found = []
    if grid is None or other is None or other not in neighbours.get(grid, set()):
        found.append(RegistryProblem(wid, "partner_not_adjacent", f"worker {wid}: partner {partner_id}'s grid {other} "
                                     f"does not share an edge with grid {grid} (A/B posts pair neighbouring grids, "
                                     "P-54)"))
    back = _text(partner.get("partner_worker_id"))
    if back is not None and back != wid:
        found.append(RegistryProblem(wid, "partner_not_mutual", f"worker {wid}: partner {partner_id} names {back} "
                                     "as partner"))
    return found


def raise_registry_problems(problems: Sequence[RegistryProblem], *, source: str, shown: int = 10) -> None:
    """One ValidationError naming the source, each worker and rule; ``details`` lists all of them."""
    if not problems:
        return
    lines = [f"[{p.rule}] {p.message}" for p in problems[:shown]]
    more = f"\n  ... and {len(problems) - shown} more (see details)" if len(problems) > shown else ""
    raise ValidationError(f"{source}: {len(problems)} workers registry problem(s):\n  " + "\n  ".join(lines) + more,
                          code="invalid_workers", details=[{"source": source, **p.to_dict()} for p in problems])


def _translate_roles(source: Any, layer: columns.ImportLayer, column_map: Mapping[str, str] | None) -> None:
    mapping = columns.resolve_columns(source.columns, layer, column_map or {}, path=source.path)
    role_column = mapping.get("role")
    if role_column is not None:
        source.frame[role_column] = [ROLE_TITLES.get(str(v).strip(), v) if _text(v) else v
                                     for v in source.frame[role_column]]


def import_workers(store: Store, settings: Settings, path: str | Path, *,
                   column_map: Mapping[str, str] | None = None, actor: str | None = None) -> WorkerImportReport:
    """Import a workers CSV (or any table file) all-or-nothing; stored worker_ids are replaced."""
    layer = columns.import_layer_named("workers")
    p = Path(path)
    source = prepare.read_for_layer(p, layer, column_map=column_map)
    _translate_roles(source, layer, column_map)
    prepared = prepare.prepare_features(source, layer, settings, column_map=column_map)
    raise_feature_problems(prepared.problems, path=p, layer=layer.name)
    rows = rows_for_store(prepared.frame, layer, source_name=p.name)
    dup = rows["worker_id"][rows["worker_id"].duplicated()].tolist()
    if dup:
        raise ValidationError(f"{p}: worker_id {', '.join(map(str, dup[:10]))} appears more than once",
                              code="duplicate_key")
    report = WorkerImportReport(path=str(p), read=len(rows), warnings=list(prepared.warnings))
    with store.transaction() as tx:
        stored = tx.read(schema.WORKERS)
        replaced = stored["worker_id"].isin(rows["worker_id"])
        merged = pd.concat([stored.loc[~replaced].drop(columns=[schema.FID]), rows], ignore_index=True)
        raise_registry_problems(registry_problems(merged, active_grids(tx)), source=str(p))
        report.replaced = int(replaced.sum())
        report.added = len(rows) - report.replaced
        if report.replaced:
            tx.delete(schema.WORKERS, {"worker_id": stored.loc[replaced, "worker_id"].tolist()})
        tx.insert(schema.WORKERS, rows)
        audit.record(tx, "workers.import", actor=actor, target=schema.WORKERS, detail=report.to_dict())
    return report


def check_stored_registry(store_or_tx: Store | StoreTransaction) -> list[RegistryProblem]:
    """The registry rules over what is stored now (after a generation change grids may have moved)."""
    return registry_problems(store_or_tx.read(schema.WORKERS), active_grids(store_or_tx))


def workers_in_scope(store: Store, principal: Principal, *, area: str | None = None) -> pd.DataFrame:
    """Workers whose main grid lies in the caller's area (and in ``area`` when given), by worker_id."""
    require_role(principal, *REGISTRY_ROLES)
    frame = store.read(schema.WORKERS)
    codes = frame["grid_code"].astype("string").fillna("")
    whole = principal.role is Role.ADMIN and principal.area_code == ""
    keep = codes.str.startswith(principal.area_code) & (codes != "") if not whole else pd.Series(True, frame.index)
    if area:
        keep &= codes.str.startswith(area)
    return frame.loc[keep.to_numpy(dtype=bool)].sort_values("worker_id", kind="stable").reset_index(drop=True)


def worker_record(store: Store, principal: Principal, worker_id: str) -> dict[str, Any]:
    """One worker with their partner's name; the same 404 when missing or outside the caller's area."""
    require_role(principal, *REGISTRY_ROLES)
    rows = store.read(schema.WORKERS, where={"worker_id": worker_id})
    if rows.empty:
        raise NotFoundError(f"worker {worker_id} not found")
    row = _rows(rows)[0]
    grid = _text(row.get("grid_code"))
    whole = principal.role is Role.ADMIN and principal.area_code == ""
    if not whole and not principal.covers(grid):
        raise NotFoundError(f"worker {worker_id} not found")
    partner_id = _text(row.get("partner_worker_id"))
    partner = store.read(schema.WORKERS, where={"worker_id": partner_id}) if partner_id else pd.DataFrame()
    record = {k: (None if not isinstance(v, list | dict) and pd.isna(v) else v) for k, v in row.items()
              if k != schema.FID}
    record["own_grids"] = sorted(own_grids_of(row.get("grid_code"), row.get("extra_grid_codes")))
    record["partner_name"] = str(partner.iloc[0]["name"]) if len(partner) else None
    return record
