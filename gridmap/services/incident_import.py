"""Import incidents from a CSV or GeoJSON file (hotline exports, E-4; WeChat batches, E-2) into the loop.

Why not the plain layer import: an incident needs more than its columns: its grid/community/street
from the point, a known category, a deadline, version 1, a tracking token and its first event. The
file side (reading CSV/GeoJSON/…, column aliases such as 上报时间, CRS handling, geometry checks) is
the io importer's (:mod:`gridmap.io.prepare`, the same code behind ``gridmap import``); the rest is
done here. All problems of the file are reported together and nothing is stored unless every row
is good; the write is one transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import schema
from gridmap.auth.principal import Principal, require_role
from gridmap.config import Settings
from gridmap.incidents.workflow import Status, initial_level, token_hash
from gridmap.io import columns as io_columns
from gridmap.io import prepare
from gridmap.io.checks import FeatureProblem
from gridmap.model import Role
from gridmap.services.importing import raise_feature_problems
from gridmap.store.base import Store

if TYPE_CHECKING:
    from gridmap.services.incidents import IncidentService

#: The file fields read (category required); the rest of INCIDENTS is filled here.
FILE_FIELDS = ("category", "description", "address", "reporter", "media_url")
_MANAGED = tuple(c for c in schema.INCIDENTS_SPEC.column_names if c not in FILE_FIELDS)
IMPORT_LAYER = io_columns.ImportLayer("incidents", schema.INCIDENTS, managed=_MANAGED,
                                      aux=("incident_id", "reported_at", "status"))


@dataclass(frozen=True)
class IncidentImport:
    path: str
    read: int
    written: int
    incident_ids: list[str]


def _problems_for_rows(frame: pd.DataFrame, labels: Any, service: IncidentService, principal: Principal,
                       grids: np.ndarray) -> list[FeatureProblem]:
    problems: list[FeatureProblem] = []
    catalogue = service.policy.catalogue
    statuses = {s.value for s in Status}
    for row, (category, status, grid) in enumerate(zip(frame["category"], frame["status"], grids, strict=True)):
        label = labels[row]
        if catalogue.find(category) is None:
            problems.append(FeatureProblem("unknown_category", row, label, f"{label}: category {category!r} is not "
                                           f"one of {', '.join(c.service_code for c in catalogue)}"))
        if status is not None and not pd.isna(status) and str(status) not in statuses:
            problems.append(FeatureProblem("unknown_status", row, label, f"{label}: status {status!r} is not one "
                                           f"of {', '.join(sorted(statuses))}"))
        if grid is None:
            problems.append(FeatureProblem("outside_service_area", row, label, f"{label}: the point is in no "
                                           "active grid"))
        elif not principal.covers(str(grid)) and not (principal.role is Role.ADMIN and principal.area_code == ""):
            problems.append(FeatureProblem("outside_area", row, label, f"{label}: grid {grid} is outside your "
                                           f"area {principal.area_code}"))
    return problems


def _rows(frame: pd.DataFrame, grids: np.ndarray, service: IncidentService, *, now: datetime,
          source: str) -> pd.DataFrame:
    out = []
    for rec, grid in zip(frame.to_dict("records"), grids, strict=True):
        category = service.policy.catalogue.get(rec["category"])
        level = initial_level(category)
        reported = pd.Timestamp(rec["reported_at"]) if not pd.isna(rec.get("reported_at")) else pd.Timestamp(now)
        given_id = rec.get("incident_id")
        out.append({
            "incident_id": str(given_id) if given_id is not None and not pd.isna(given_id)
            else f"SR{now:%Y%m%d}-{secrets.token_hex(5).upper()}",
            "category": category.service_code, "description": rec.get("description"),
            "status": rec["status"] if rec.get("status") and not pd.isna(rec["status"]) else "reported",
            "reported_at": reported, "updated_at": pd.Timestamp(now), "grid_code": str(grid),
            "community_code": str(grid)[:12], "street_code": str(grid)[:9], "level": level.value, "weight": 1.0,
            "address": rec.get("address"), "reporter": rec.get("reporter"), "synthetic": False, "source": source,
            "version": 1, "deadline_at": reported + category.deadline(level),
            "urgent": category.urgent, "verification_failures": 0, "penalty": False, "supervised": False,
            "overdue_count": 0, "media_url": rec.get("media_url"), "status_notes": f"导入自 {source}",
            "token": token_hash(secrets.token_urlsafe(16)),  # nobody holds it: imports have no reporter token
        })
    return pd.DataFrame(out)


def import_incidents(store: Store, settings: Settings, service: IncidentService, principal: Principal,
                     path: str | Path, *, crs: str | None = None, now: datetime) -> IncidentImport:
    """Import every point of ``path`` as an incident (command centre and admins only), all or nothing."""
    require_role(principal, Role.COMMAND)
    p = Path(path)
    source = prepare.read_for_layer(p, IMPORT_LAYER)
    prepared = prepare.prepare_features(source, IMPORT_LAYER, settings, crs=crs)
    raise_feature_problems(prepared.problems, path=p, layer="incidents")
    frame = prepared.frame
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    points = shapely.point_on_surface(geoms) if len(geoms) else geoms
    grids = service.lookup.index().lookup_many(shapely.get_x(points), shapely.get_y(points)) if len(geoms) else geoms
    problems = _problems_for_rows(frame, prepared.labels, service, principal, grids)
    raise_feature_problems(problems, path=p, layer="incidents")
    rows = _rows(frame, grids, service, now=now, source=p.name)
    incidents = gpd.GeoDataFrame(rows, geometry=list(points), crs=frame.crs)
    events = pd.DataFrame({"incident_id": rows["incident_id"], "seq": 1, "at": pd.Timestamp(now),
                           "actor": principal.name, "from_status": None, "to_status": rows["status"],
                           "action": "report", "note": f"导入自 {p.name}", "detail": None})
    with store.transaction() as tx:
        tx.insert(schema.INCIDENTS, incidents)
        tx.insert(schema.INCIDENT_EVENTS, events)
    return IncidentImport(str(p), prepared.features_read, len(rows), rows["incident_id"].tolist())
