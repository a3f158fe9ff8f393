"""What the field page and the analytics pages show: today's tasks, visit coverage, field assessment.

* ``today_tasks``: for the signed-in worker and their own grid(s) only: today's patrol (R-16, from
  the tracking analytics), inspection points due (E-42), visits planned for today (follow-ups), open
  incidents assigned to them with deadlines, and whether today's log is written.
* ``visit_coverage``: share of buildings visited per grid in a month (D-11), for leaders.
* ``field_assessment``: diary days, visits and inspection coverage per worker, scored with the weights
  in Settings (A-5, A-13, G-31).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap import schema
from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.field.assessment import FieldScoreRules, field_scores
from gridmap.field.coverage import days_of_month, inspection_coverage, visit_coverage
from gridmap.field.points import due_points
from gridmap.incidents.workflow import CLOSED_STATUSES
from gridmap.services.field import REPORT_ROLES, FieldService, require_leader, worker_of
from gridmap.services.field_diary import diary_id
from gridmap.services.generations import active_grids
from gridmap.store.base import Store


def read_month(store: Store, layer: str, month: str, columns: list[str]) -> pd.DataFrame:
    """Rows of ``layer`` whose local ``day`` is in ``month``, filtered in the store (not the whole layer)."""
    return store.read(layer, where={"day": days_of_month(month)}, columns=columns)


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _text(value: Any) -> str | None:
    """Text or None (pandas gives NaN for missing values, which is not JSON)."""
    return value if isinstance(value, str) else None


def _xy(geometry: Any) -> tuple[float, float]:
    return float(geometry.x), float(geometry.y)


def _patrolled(service: FieldService, worker_id: str, grid: str, today: str) -> bool | None:
    """Today's patrol done (R-16) from the tracking analytics; None when tracking cannot tell."""
    from gridmap.tracking.report import patrol_report

    try:
        report = patrol_report(service.store, service.settings, period="day", when=today, area=grid)
    except Exception:  # the task list must still load when the patrol report cannot be made
        return None
    rows = report.by_worker.loc[report.by_worker["worker_id"] == worker_id]
    return bool(rows["patrolled"].iloc[0]) if len(rows) else False


def today_tasks(service: FieldService, principal: Principal) -> dict[str, Any]:
    """The worker's day: patrol, points due, visits planned, assigned open incidents, today's log."""
    store = service.store
    me = worker_of(store, principal)
    today = service.today()
    points = service.points_for(principal)
    checks = store.read(schema.CHECKINS, where={"point_id": points["point_id"].tolist() or ["-"]},
                        columns=["point_id", "day"])
    last = checks.groupby("point_id")["day"].max().to_dict() if len(checks) else {}
    due = due_points(points, {str(k): str(v) for k, v in last.items()}, today=date.fromisoformat(today))
    visits = store.read(schema.HOME_VISITS, where={"worker_id": me.worker_id},
                        columns=["visit_id", "building_id", "household", "day", "follow_up", "follow_up_on"])
    newest = visits.groupby("building_id")["day"].max().to_dict() if len(visits) else {}
    planned = visits.loc[visits["follow_up_on"].notna() & (visits["follow_up_on"].astype(str) <= today)]
    planned = planned.loc[[str(newest.get(b, "")) <= str(d) for b, d in zip(planned["building_id"], planned["day"],
                                                                            strict=True)]]
    incidents = store.read(schema.INCIDENTS, where={"assigned_to": me.worker_id},
                           columns=["incident_id", "category", "status", "deadline_at", "address", "description"])
    incidents = incidents.loc[~incidents["status"].isin([s.value for s in CLOSED_STATUSES])]
    diary = store.count(schema.DIARIES, where={"diary_id": diary_id(me.worker_id, today)})
    return {
        "worker": {"worker_id": me.worker_id, "name": me.name, "grid_code": me.grid_code, "grids": list(me.grids)},
        "day": today,
        "patrol_done": _patrolled(service, me.worker_id, me.grid_code, today),
        "points": [{"point_id": str(r.point_id), "name": str(r.name), "grid_code": str(r.grid_code),
                    "interval_days": int(str(r.interval_days)), "last_day": _text(r.last_day), "due_on": r.due_on,
                    "due": bool(r.due), "lon": _xy(r.geometry)[0], "lat": _xy(r.geometry)[1]}
                   for r in due.sort_values(["due", "due_on"], ascending=[False, True]).itertuples()],
        "visits_planned": [{"visit_id": str(r.visit_id), "building_id": str(r.building_id),
                            "household": _text(r.household), "follow_up": _text(r.follow_up),
                            "follow_up_on": _text(r.follow_up_on)}
                           for r in planned.itertuples()],
        "incidents": [{"incident_id": str(r.incident_id), "category": str(r.category), "status": str(r.status),
                       "deadline_at": _iso(r.deadline_at), "address": _text(r.address)}
                      for r in incidents.sort_values("deadline_at").itertuples()],
        "diary_written": bool(diary),
    }


def _grids_in(store: Any, principal: Principal, area: str | None) -> gpd.GeoDataFrame:
    grids = active_grids(store)
    prefix = area or principal.area_code
    return grids.loc[grids["code"].astype(str).str.startswith(prefix).to_numpy(dtype=bool)]


def buildings_by_grid(store: Any, grids: gpd.GeoDataFrame) -> pd.DataFrame:
    """building_id and the active grid holding each building's representative point."""
    if grids.empty:
        return pd.DataFrame({"building_id": pd.Series(dtype=object), "grid_code": pd.Series(dtype=object)})
    buildings = store.read(schema.BUILDINGS, bbox=tuple(grids.total_bounds), columns=["building_id", "geometry"])
    buildings = buildings.loc[buildings.geometry.notna() & buildings["building_id"].notna()]
    spots = gpd.GeoDataFrame({"building_id": buildings["building_id"].to_numpy()},
                             geometry=buildings.geometry.representative_point().to_numpy(), crs=buildings.crs)
    joined = gpd.sjoin(spots, grids[["code", "geometry"]], predicate="within", how="inner")
    return pd.DataFrame({"building_id": joined["building_id"].astype(str), "grid_code": joined["code"].astype(str)})


def visit_coverage_report(service: FieldService, principal: Principal, *, month: str,
                          area: str | None = None) -> pd.DataFrame:
    """Per grid of the caller's area: buildings, visited, visits and visit_share in ``month``."""
    require_leader(principal, area or principal.area_code, what="area", roles=REPORT_ROLES)
    grids = _grids_in(service.store, principal, area)
    visits = read_month(service.store, schema.HOME_VISITS, month, columns=["building_id", "grid_code", "day"])
    out = visit_coverage(buildings_by_grid(service.store, grids), visits)
    names = dict(zip(grids["code"].astype(str), grids["name"], strict=True))
    out.insert(1, "grid_name", [names.get(c) for c in out["grid_code"]])
    return out


def rules_from_settings(settings: Settings) -> FieldScoreRules:
    return FieldScoreRules(weight_diaries=settings.field_weight_diaries, weight_visits=settings.field_weight_visits,
                           weight_inspection=settings.field_weight_inspection,
                           diary_days_target=settings.field_diary_days_target,
                           visits_target=settings.field_visits_target)


def field_assessment(service: FieldService, principal: Principal, *, month: str,
                     area: str | None = None) -> pd.DataFrame:
    """Diaries, visits and inspection coverage per worker of the caller's area in ``month``, scored."""
    prefix = area or principal.area_code
    require_leader(principal, prefix, what="area", roles=REPORT_ROLES)
    store = service.store
    workers = store.read(schema.WORKERS, where={"active": True}, columns=["worker_id", "name", "grid_code"])
    workers = workers.loc[workers["grid_code"].astype(str).str.startswith(prefix).to_numpy(dtype=bool)]
    diaries = read_month(store, schema.DIARIES, month, columns=["worker_id", "day", "reviewed_by"])
    visits = read_month(store, schema.HOME_VISITS, month, columns=["worker_id", "building_id", "day"])
    points = store.read(schema.INSPECTION_POINTS, where={"active": True}, columns=["point_id", "worker_id"])
    checkins = read_month(store, schema.CHECKINS, month, columns=["point_id", "day"])
    return field_scores(workers, diaries, visits, points, checkins, rules=rules_from_settings(service.settings))


def inspection_coverage_report(service: FieldService, principal: Principal, *, month: str) -> pd.DataFrame:
    """Points checked vs points per grid of the caller's area in ``month`` (G-31)."""
    points = service.points_for(principal)
    checkins = read_month(service.store, schema.CHECKINS, month, columns=["point_id", "day"])
    return inspection_coverage(points, checkins, by="grid_code")
