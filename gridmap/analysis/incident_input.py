"""Checks and filters on incident frames before any analysis: locations, times, weights, windows.

Why strict: a heatmap or hotspot test that silently drops incidents without a location, or
reads "2024-13-01" as missing, gives a confident wrong answer. Every problem is a
ValidationError that names the source (file or layer), the column, how many incidents and a few
of them, so the person who made the file can fix it.

Times are compared in UTC. A time without a zone (a CSV with ``2024-03-01 08:00``) is taken as
UTC, the zone the stores keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gridmap import schema
from gridmap.errors import ValidationError

ID_COLUMN = schema.INCIDENTS_SPEC.column("incident_id").name
TIME_COLUMN = schema.INCIDENTS_SPEC.column("reported_at").name
CATEGORY_COLUMN = schema.INCIDENTS_SPEC.column("category").name
STATUS_COLUMN = schema.INCIDENTS_SPEC.column("status").name
#: How many offending incidents an error message lists.
SHOWN = 5


def _labels(frame: pd.DataFrame, mask: npt.NDArray[np.bool_]) -> str:
    """Up to SHOWN incident ids (or 1-based row numbers) of the rows in ``mask``."""
    rows = np.flatnonzero(mask)[:SHOWN]
    if ID_COLUMN in frame.columns:
        names = [str(frame[ID_COLUMN].iloc[i]) for i in rows]
    else:
        names = [f"row {i + 1}" for i in rows]
    more = int(mask.sum()) - len(rows)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def incident_points(frame: pd.DataFrame, *, source: str) -> gpd.GeoSeries:
    """The incidents' locations as a lon/lat point GeoSeries; missing or non-point geometry is an error."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise ValidationError(f"{source}: the incidents have no geometry column; each incident needs a location")
    geoms = frame.geometry
    if geoms.crs is None:
        raise ValidationError(f"{source}: the incidents' CRS is unknown; give lon/lat (EPSG:4326) or declare the CRS")
    if geoms.crs.to_epsg() not in (4326, 4490):
        geoms = geoms.to_crs(4326)
    missing = np.asarray(geoms.isna() | geoms.is_empty)
    if missing.any():
        raise ValidationError(
            f"{source}: {int(missing.sum())} incident(s) have no location ({_labels(frame, missing)});"
            " rule: every incident analysed needs a point geometry",
            code="incident_without_location",
        )
    not_point = np.asarray(geoms.geom_type != "Point")
    if not_point.any():
        raise ValidationError(
            f"{source}: {int(not_point.sum())} incident(s) are not points ({_labels(frame, not_point)},"
            f" e.g. {geoms[not_point].iloc[0].geom_type}); rule: an incident is located by one point",
            code="incident_not_point",
        )
    return gpd.GeoSeries(geoms.to_numpy(), index=frame.index, crs="EPSG:4326")


def incident_times(frame: pd.DataFrame, column: str = TIME_COLUMN, *, source: str) -> pd.Series:
    """The column parsed as UTC datetimes; a missing column, a missing time or an unparsable one is an error."""
    if column not in frame.columns:
        raise ValidationError(
            f"{source}: no time column {column!r} (columns: {', '.join(map(str, frame.columns))[:300]});"
            " name it with --time-column",
            code="no_time_column",
        )
    raw = frame[column]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = raw.dt.tz_convert("UTC")
    else:
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    absent = np.asarray(raw.isna())
    if absent.any():
        raise ValidationError(
            f"{source}: {int(absent.sum())} incident(s) have no time in column {column!r}"
            f" ({_labels(frame, absent)}); rule: every incident analysed over time needs a time",
            code="incident_without_time",
        )
    bad = np.asarray(parsed.isna()) & ~absent
    if bad.any():
        example = raw[bad].iloc[0]
        raise ValidationError(
            f"{source}: {int(bad.sum())} value(s) of time column {column!r} do not parse as a date and time"
            f" ({_labels(frame, bad)}; e.g. {str(example)[:40]!r}); use ISO 8601 such as 2024-03-01T08:30:00+08:00",
            code="unparsable_time",
        )
    return pd.Series(parsed.array, index=frame.index, name=column)  # datetime64[ns, UTC], not Timestamp objects


def incident_weights(frame: pd.DataFrame, column: str | None, *, source: str) -> npt.NDArray[np.float64]:
    """Per-incident weights: 1 each without a column; else the column as non-negative numbers (errors named)."""
    if column is None:
        return np.ones(len(frame), dtype=float)
    if column not in frame.columns:
        raise ValidationError(
            f"{source}: no weight column {column!r} (columns: {', '.join(map(str, frame.columns))[:300]})",
            code="no_weight_column",
        )
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy(na_value=np.nan)
    bad = np.isnan(values)
    if bad.any():
        raise ValidationError(
            f"{source}: {int(bad.sum())} value(s) of weight column {column!r} are missing or not numbers"
            f" ({_labels(frame, bad)}); rule: a weight is a number >= 0",
            code="bad_weight",
        )
    negative = values < 0
    if negative.any():
        raise ValidationError(
            f"{source}: {int(negative.sum())} value(s) of weight column {column!r} are negative"
            f" ({_labels(frame, negative)}); rule: a weight is a number >= 0",
            code="bad_weight",
        )
    return np.asarray(values, dtype=float)


def _as_utc(value: datetime | str | pd.Timestamp | None, what: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} {value!r} is not a date; use ISO 8601 such as 2024-03-01") from None
    if ts is pd.NaT:
        raise ValidationError(f"{what} {value!r} is not a date; use ISO 8601 such as 2024-03-01")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def time_window(
    start: datetime | str | pd.Timestamp | None, end: datetime | str | pd.Timestamp | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``[start, end)`` as UTC timestamps (either may be open); start after end is an error."""
    lo, hi = _as_utc(start, "start"), _as_utc(end, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise ValidationError(f"time window: start {lo.isoformat()} is not before end {hi.isoformat()}")
    return lo, hi


def filter_incidents(
    frame: pd.DataFrame,
    *,
    source: str,
    categories: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    time_column: str = TIME_COLUMN,
) -> pd.DataFrame:
    """Incidents of the given categories reported in ``[start, end)``; times are checked only when a window is set."""
    out = frame
    if categories:
        if CATEGORY_COLUMN not in out.columns:
            raise ValidationError(f"{source}: no {CATEGORY_COLUMN!r} column to filter categories on")
        out = out[out[CATEGORY_COLUMN].isin(list(categories))]
    lo, hi = time_window(start, end)
    if lo is not None or hi is not None:
        times = incident_times(out, time_column, source=source)
        keep = np.ones(len(out), dtype=bool)
        if lo is not None:
            keep &= np.asarray(times >= lo)
        if hi is not None:
            keep &= np.asarray(times < hi)
        out = out[keep]
    return out
