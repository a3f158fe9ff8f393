"""Inspection points (巡查点): rows from an import file, and when each self-check falls due.

Why an interval per point: E-42 sets a self-check every two days with at least one photo, but a
key unit may need a daily check and a quiet courtyard a weekly one (E-41), so the file may say
``interval_days`` per point and the setting gives the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import ValidationError

#: Accepted column names per field (first match wins, case-insensitive), Chinese exports included.
ALIASES: dict[str, tuple[str, ...]] = {
    "point_id": ("point_id", "id", "code", "编号", "点位编号", "巡查点编号"),
    "name": ("name", "名称", "点位名称", "巡查点名称"),
    "kind": ("kind", "type", "类型", "点位类型"),
    "grid_code": ("grid_code", "grid", "网格编码", "网格"),
    "worker_id": ("worker_id", "worker", "网格员编号", "责任人编号"),
    "interval_days": ("interval_days", "interval", "周期", "巡查周期"),
    "address": ("address", "地址"),
    "note": ("note", "备注"),
}
MAX_INTERVAL_DAYS = 366


@dataclass(frozen=True)
class PointProblem:
    row: int  # 1-based feature number in the file
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "message": self.message}


def _column(columns: Sequence[str], field: str) -> str | None:
    lowered = {str(c).strip().lower(): str(c) for c in columns}
    return next((lowered[a.lower()] for a in ALIASES[field] if a.lower() in lowered), None)


def _cell(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _interval(value: Any, default: int, row: int, problems: list[PointProblem]) -> int:
    text = _cell(value)
    if text is None:
        return default
    try:
        days = int(float(text))
    except ValueError:
        days = -1
    if not 1 <= days <= MAX_INTERVAL_DAYS or float(text) != days:
        problems.append(PointProblem(row, f"interval_days {text!r} must be a whole number of days 1..366"))
        return default
    return days


def point_rows(frame: pd.DataFrame, geometries: Sequence[Any] | np.ndarray | None, *, default_interval_days: int
               ) -> tuple[pd.DataFrame, list[PointProblem]]:
    """Inspection-point rows (``geometry`` = shapely points, lon/lat) and the problems per row.

    ``grid_code`` and ``worker_id`` may be missing: the service fills them from the active grid at the
    point and that grid's worker, and checks what the file gives.
    """
    if geometries is None:
        raise ValidationError("the file has no positions: give lon and lat columns (CSV) or point features")
    cols = {f: _column(list(frame.columns), f) for f in ALIASES}
    for need in ("point_id", "name"):
        if cols[need] is None:
            raise ValidationError(f"the file has no {need} column (any of: {', '.join(ALIASES[need])})",
                                  code="missing_columns")
    problems: list[PointProblem] = []
    rows: list[dict[str, Any]] = []
    for i, geom in enumerate(geometries):
        raw = frame.iloc[i]
        row: dict[str, Any] = {f: _cell(raw[c]) if c else None for f, c in cols.items()}
        row["interval_days"] = _interval(raw[cols["interval_days"]] if cols["interval_days"] else None,
                                         default_interval_days, i + 1, problems)
        if geom is None or not isinstance(geom, shapely.Point) or geom.is_empty:
            problems.append(PointProblem(i + 1, "the position is missing or is not a point"))
        if not row["point_id"] or not row["name"]:
            problems.append(PointProblem(i + 1, "point_id and name must not be empty"))
        row["geometry"] = geom
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*ALIASES, "geometry"])
    dup = out["point_id"][out["point_id"].notna() & out["point_id"].duplicated()].tolist()
    problems += [PointProblem(0, f"point_id {p} appears more than once") for p in dict.fromkeys(dup)]
    return out, problems


def due_points(points: pd.DataFrame, last_check_day: dict[str, str], *, today: date) -> pd.DataFrame:
    """``points`` with ``last_day`` (local date of the newest check-in), ``due_on`` and ``due`` (bool).

    A point is due on ``last_day + interval_days``; one never checked is due today. ``due`` is true
    when ``due_on`` <= today, i.e. the worker should check it today.
    """
    out = points.copy()
    last = [last_check_day.get(str(p)) for p in out["point_id"]]
    due_on = []
    for day, interval in zip(last, out["interval_days"], strict=True):
        due_on.append(today if day is None else date.fromisoformat(day) + timedelta(days=int(interval)))
    out["last_day"] = last
    out["due_on"] = [d.isoformat() for d in due_on]
    out["due"] = [d <= today for d in due_on]
    return out


def bind_points(rows: pd.DataFrame, grids: gpd.GeoDataFrame, workers: pd.DataFrame) -> list[PointProblem]:
    """Fill ``grid_code``/``worker_id`` of ``rows`` in place from the active grid at each point (``grids``:
    code, geometry) and that grid's main worker; problems for a point in no grid, a grid_code that is not
    the grid at the point, or a worker who is not active in that grid (main or extra grid)."""
    problems: list[PointProblem] = []
    serving: dict[str, list[str]] = {}
    active = workers.loc[workers["active"].fillna(True).astype(bool)]
    for wid, main, extra in zip(active["worker_id"], active["grid_code"], active["extra_grid_codes"], strict=True):
        for g in [main, *(extra if isinstance(extra, list) else [])]:
            if isinstance(g, str):
                serving.setdefault(g, []).append(str(wid))
    mains = dict(zip(active["grid_code"], active["worker_id"], strict=False))
    for i, row in rows.iterrows():
        geom = row["geometry"]
        if not isinstance(geom, shapely.Point):
            continue
        hit = [str(c) for c in grids.loc[grids.geometry.intersects(geom), "code"]]
        n = int(str(i)) + 1
        if not hit:
            problems.append(PointProblem(n, f"point {row['point_id']} lies in no active grid"))
            continue
        given = row["grid_code"]
        if given and given not in hit:
            problems.append(PointProblem(n, f"point {row['point_id']} lies in grid {hit[0]}, not {given}"))
            continue
        grid = given or hit[0]
        rows.at[i, "grid_code"] = grid
        worker = row["worker_id"] or mains.get(grid)
        if not worker or worker not in serving.get(grid, []):
            problems.append(PointProblem(n, f"point {row['point_id']}: {worker or 'no worker'} is not an active "
                                            f"worker of grid {grid}"))
            continue
        rows.at[i, "worker_id"] = worker
    return problems
