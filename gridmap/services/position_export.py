"""``gridmap export positions``: worker positions of a time window to CSV, GeoJSON, GeoPackage or Shapefile.

The window is ``[since, until)`` in fix time. Either bound may be a date (``2024-05-06``: that local day's
midnight in ``settings.tracking_timezone``; a date ``until`` includes that whole day) or an ISO 8601
date-time (a naive one is local time). With ``since`` the positions are read day by day through the
indexed ``day`` column; without it the whole layer is read. The file has the positions layer's columns,
geometry as lon/lat (CSV: ``lon``/``lat`` columns), rows in (device, fix time) order. Exports contain
personal data: the command prints where the file went so it can be accounted for (R-32..R-34).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.io.writers import EXPORT_FORMATS, write_frame
from gridmap.services.exporting import ExportReport
from gridmap.store.base import Store
from gridmap.tracking.batch import local_day, tracking_zone
from gridmap.tracking.retention import days_between


def instant_from_text(text: str, zone: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """A tz-aware instant from a date or ISO date-time (see the module docstring); 400 otherwise."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end_of_day else 0)
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value[:30]!r} is not a date (2024-05-06) or an ISO 8601 time "
                              "(2024-05-06T08:00:00+08:00)", details={"value": value[:30]}) from None
    return stamp.replace(tzinfo=zone) if stamp.tzinfo is None else stamp


def positions_between(store: Store, settings: Settings, *, since: datetime | None, until: datetime | None
                      ) -> pd.DataFrame:
    """Positions with ``since <= fix_time < until`` (either bound open), sorted by device and fix time."""
    zone = tracking_zone(settings)
    if since is not None:
        last = until if until is not None else datetime.now(zone) + timedelta(days=1)
        first_day = date.fromisoformat(local_day(since, zone))
        end_day = date.fromisoformat(local_day(last, zone)) + timedelta(days=1)
        frame = store.read(schema.POSITIONS, where={"day": days_between(first_day, end_day)})
    else:
        frame = store.read(schema.POSITIONS)
    keep = pd.Series(True, index=frame.index)
    if since is not None:
        keep &= frame["fix_time"] >= pd.Timestamp(since)
    if until is not None:
        keep &= frame["fix_time"] < pd.Timestamp(until)
    out = frame.loc[keep.to_numpy(dtype=bool)]
    return out.sort_values(["device_id", "fix_time"], kind="stable").reset_index(drop=True)


def export_positions(store: Store, settings: Settings, fmt: str, out: str | Path, *, since: str | None = None,
                     until: str | None = None) -> ExportReport:
    """Write the positions of ``[since, until)`` to ``out`` in ``fmt`` (geojson|gpkg|shp|csv)."""
    started = time.perf_counter()
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    path = Path(out)
    if not path.parent.exists():
        raise ValidationError(f"{path}: folder {path.parent} does not exist", code="unwritable_file")
    zone = tracking_zone(settings)
    lower = instant_from_text(since, zone) if since else None
    upper = instant_from_text(until, zone, end_of_day=True) if until else None
    if lower is not None and upper is not None and upper <= lower:
        raise ValidationError(f"--until {until} is not after --since {since}")
    frame = positions_between(store, settings, since=lower, until=upper)
    rows = write_frame(frame, schema.POSITIONS_SPEC, fmt, path)
    return ExportReport(schema.POSITIONS, schema.POSITIONS, fmt, str(path), rows, {}, time.perf_counter() - started)
