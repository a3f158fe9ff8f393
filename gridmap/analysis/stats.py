"""Per-area statistics (G-5, A-34): buildings, dwellings, households, persons and incidents per area.

Why by location and not by the codes stored on each row: a building's ``community_code`` or an
incident's ``grid_code`` can be missing or stale after boundaries change (a new grid generation),
while its location does not change. Every building (by its representative point) and every
incident is counted in the area that contains it; where areas overlap (estates drawn across each
other) it counts once, in the first area by code. Things outside every area are reported as
``outside`` in :class:`AreaStatistics`, so the table's totals plus ``outside`` equal the input
totals, which the tests check.

* dwellings (房屋, flats): per building, gross floor area x residential share / m² per dwelling
  (the household-estimate formula of ``gridmap.io.households`` with the settings' values) when
  footprint and floors are known, never fewer than its households; else its households;
* persons: the building's population, else households x ``settings.persons_per_household``;
* incidents: the total, per category (``category:<name>``) and per status (``status:<name>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gridmap import schema
from gridmap.analysis.cells import TILING_GRID_KINDS
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.io.households import households_from_floor_area
from gridmap.model import AreaLevel

STAT_LEVELS: tuple[str, ...] = ("district", "street", "community", "grid", "estate")
CODE, NAME, LEVEL = "code", "name", "level"
BUILDINGS, DWELLINGS, HOUSEHOLDS, PERSONS, INCIDENTS = "buildings", "dwellings", "households", "persons", "incidents"
COUNT_COLUMNS: tuple[str, ...] = (BUILDINGS, DWELLINGS, HOUSEHOLDS, PERSONS, INCIDENTS)
CATEGORY_PREFIX, STATUS_PREFIX = "category:", "status:"
_B = schema.BUILDINGS_SPEC
_I = schema.INCIDENTS_SPEC


@dataclass
class AreaStatistics:
    """One row per area (``frame``, a GeoDataFrame in EPSG:4326) and what fell outside every area."""

    level: str
    frame: gpd.GeoDataFrame
    outside: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The rows without geometry (for CSV and JSON)."""
        return pd.DataFrame(self.frame.drop(columns=self.frame.geometry.name))

    def totals(self) -> dict[str, float]:
        """Column sums of the counts (areas only, ``outside`` not included)."""
        return {c: float(self.frame[c].sum()) for c in self.frame.columns if is_count_column(c)}


def is_count_column(column: Any) -> bool:
    """True for the count columns (fixed ones and the category/status breakdowns)."""
    return str(column) in COUNT_COLUMNS or str(column).startswith((CATEGORY_PREFIX, STATUS_PREFIX))


def _lonlat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is not None and frame.crs.to_epsg() not in (4326, 4490):
        return frame.to_crs(4326)
    return frame


def units_for_level(
    level: str, *, areas: gpd.GeoDataFrame, grids: gpd.GeoDataFrame | None = None,
    estates: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """The areas of one level as (code, name, level, geometry): admin levels from ``areas``, grids, estates."""
    if level not in STAT_LEVELS:
        raise ValidationError(f"unknown statistics level {level!r}; use one of {', '.join(STAT_LEVELS)}")
    if level == "grid":
        frame = grids if grids is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
        kind = schema.GRIDS_SPEC.column("kind").name
        if kind in frame.columns:
            frame = frame[frame[kind].isna() | frame[kind].isin(TILING_GRID_KINDS)]
        codes, names = frame.get("code", pd.Series(dtype=str)), frame.get("name", pd.Series(dtype=str))
    elif level == "estate":
        frame = estates if estates is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
        eid = schema.ESTATES_SPEC.column("estate_id").name
        codes, names = frame.get(eid, pd.Series(dtype=str)), frame.get("name", pd.Series(dtype=str))
    else:
        frame = areas[areas[schema.AREAS_SPEC.column("level").name] == AreaLevel(level).value]
        codes, names = frame["code"], frame["name"]
    out = gpd.GeoDataFrame(
        {CODE: codes.astype(str).to_numpy(), NAME: names.astype(str).to_numpy(), LEVEL: level},
        geometry=np.asarray(frame.geometry.to_numpy() if len(frame) else [], dtype=object),
        crs=frame.crs if frame.crs is not None else 4326,
    )
    out = _lonlat(out)
    return out.sort_values(CODE, kind="stable").reset_index(drop=True)


def _index_in_units(units: gpd.GeoDataFrame, points: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Row of the first unit (by frame order) containing each point; -1 outside all."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(units) == 0:
        return out
    pidx, uidx = units.sindex.query(points, predicate="intersects")
    order = np.lexsort((uidx, pidx))
    pidx, uidx = pidx[order], uidx[order]
    first = np.r_[True, pidx[1:] != pidx[:-1]] if len(pidx) else np.zeros(0, dtype=bool)
    out[pidx[first]] = uidx[first]
    return out


def _numeric(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(pd.to_numeric(frame[column], errors="coerce").astype(float).to_numpy(na_value=np.nan))


def building_counts(buildings: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per building: households, dwellings and persons (estimated as the module docstring says)."""
    households = np.nan_to_num(_numeric(buildings, _B.column("households").name), nan=0.0)
    footprint = _numeric(buildings, _B.column("footprint_m2").name)
    floors = _numeric(buildings, _B.column("floors").name)
    known = ~np.isnan(footprint) & ~np.isnan(floors)
    estimate = households_from_floor_area(
        np.nan_to_num(footprint), np.nan_to_num(floors), np.ones(len(buildings), dtype=bool), settings
    ).astype(float)
    dwellings = np.where(known, np.maximum(estimate, households), households)
    population = _numeric(buildings, _B.column("population").name)
    persons = np.where(np.isnan(population), households * settings.persons_per_household, population)
    return pd.DataFrame({HOUSEHOLDS: households, DWELLINGS: dwellings, PERSONS: np.round(persons)})


def _sum_by(index: npt.NDArray[np.int64], values: npt.NDArray[np.float64], n: int) -> tuple[np.ndarray, float]:
    inside = index >= 0
    out = np.zeros(n)
    np.add.at(out, index[inside], values[inside])
    return out, float(values[~inside].sum())


def area_statistics(
    units: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    settings: Settings,
    categories: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
) -> AreaStatistics:
    """Counts per unit (see the module docstring). ``categories``/``statuses`` fix the breakdown columns
    (default: those present in ``incidents``, sorted), so tables of different areas line up."""
    units = _lonlat(units).reset_index(drop=True)
    level = str(units[LEVEL].iloc[0]) if len(units) else ""
    n = len(units)
    frame = units.copy()
    outside: dict[str, float] = {}
    b_points = _lonlat(buildings).geometry.representative_point().to_numpy() if len(buildings) else np.array([])
    b_index = _index_in_units(units, b_points)
    frame[BUILDINGS], outside[BUILDINGS] = _sum_by(b_index, np.ones(len(b_index)), n)
    counts = building_counts(buildings, settings)
    for column in (DWELLINGS, HOUSEHOLDS, PERSONS):
        frame[column], outside[column] = _sum_by(b_index, counts[column].to_numpy(dtype=float), n)
    incidents = _lonlat(incidents)
    present = ~(incidents.geometry.isna() | incidents.geometry.is_empty).to_numpy() if len(incidents) else np.array([])
    located = incidents[present] if len(incidents) else incidents
    i_index = _index_in_units(units, located.geometry.to_numpy())
    frame[INCIDENTS], outside[INCIDENTS] = _sum_by(i_index, np.ones(len(i_index)), n)
    outside["incidents_without_location"] = float(len(incidents) - len(located))
    for prefix, column, wanted in ((CATEGORY_PREFIX, _I.column("category").name, categories),
                                   (STATUS_PREFIX, _I.column("status").name, statuses)):
        values = located[column].astype("string").fillna("") if column in located.columns else pd.Series([], dtype=str)
        names = sorted(set(values) - {""}) if wanted is None else list(wanted)
        for name in names:
            mask = np.asarray(values == name, dtype=float)
            frame[f"{prefix}{name}"], outside[f"{prefix}{name}"] = _sum_by(i_index, mask, n)
    for column in frame.columns:
        if is_count_column(column):
            frame[column] = frame[column].round().astype("int64")
    return AreaStatistics(level, frame, outside)


def statistics_csv(stats: AreaStatistics) -> str:
    """The table as UTF-8 CSV text with a BOM-free header (Excel opens it with ``utf-8-sig`` if needed)."""
    return stats.table().to_csv(index=False)


def summary_of(stats: AreaStatistics) -> dict[str, Any]:
    """Totals, ``outside`` and the number of areas: what the API and CLI print above the table."""
    return {"level": stats.level, "areas": len(stats.frame), "totals": stats.totals(), "outside": stats.outside}
