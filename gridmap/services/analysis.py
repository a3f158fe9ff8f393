"""Analysis use cases over a store, shared by the CLI (``gridmap hotspots|coverage|stats``) and the portal.

Scope: every function takes ``area_code`` ("" = everything) and reads only what lies in that area,
by the same prefix rule as ``gridmap.auth.Principal.covers``: areas and grids by their code,
incidents by their most precise known code (grid, else community, else street) and, for the
few without any code, by location inside the area. The portal passes the signed-in principal's
area here, so an analyst never sees counts from outside it.

Which incidents count: every reported incident in the window except those rejected as not a case
(``rejected``) or closed as a duplicate of another (``duplicate_of`` set), which would count twice.
An incident of the store without a ``weight`` weighs 1 (imported cases often have none; file mode
is strict instead and names them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmap import schema
from gridmap.analysis.cells import (
    Cells,
    CellSpec,
    cell_spec_from_text,
    cells_from_communities,
    cells_from_grids,
    h3_cells_from_area,
    households_from_buildings,
    square_cells_from_area,
    with_households,
)
from gridmap.analysis.coverage import (
    grids_without_worker,
    households_per_worker_by_street,
    households_within_distance,
    key_units_with_responsibility,
    share_within_by_area,
    uncovered_area_by_community,
)
from gridmap.analysis.emerging import EmergingResult, emerging_from_incidents
from gridmap.analysis.heat import HeatFrames as HeatFrames
from gridmap.analysis.heat import HeatLayers as HeatLayers
from gridmap.analysis.heat import HeatPoints as HeatPoints
from gridmap.analysis.heat import heat_layers as heat_layers
from gridmap.analysis.heat import weekly_heat_frames as weekly_heat_frames
from gridmap.analysis.hotspots import METHODS as METHODS
from gridmap.analysis.hotspots import HotspotOptions, HotspotResult, hotspots_from_incidents
from gridmap.analysis.incident_input import TIME_COLUMN, filter_incidents
from gridmap.analysis.stats import COUNT_COLUMNS as COUNT_COLUMNS
from gridmap.analysis.stats import STAT_LEVELS as STAT_LEVELS
from gridmap.analysis.stats import AreaStatistics, area_statistics, units_for_level
from gridmap.analysis.stats import statistics_csv as statistics_csv
from gridmap.analysis.stats import summary_of as summary_of
from gridmap.codes import level_of_code
from gridmap.config import Settings
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import AreaLevel
from gridmap.services.generations import active_grids
from gridmap.store.base import Store

EXCLUDED_STATUSES = ("rejected",)
_I = schema.INCIDENTS_SPEC
#: Incident columns the analyses read (the rest of the 30-odd columns stays in the store).
INCIDENT_COLUMNS: tuple[str, ...] = (
    "incident_id", "category", "status", "reported_at", "grid_code", "community_code", "street_code", "weight",
    "duplicate_of", schema.GEOMETRY,
)
#: What scoping and the exclusions need, whatever else is asked for.
_SCOPE_COLUMNS = ("status", "grid_code", "community_code", "street_code", "duplicate_of", schema.GEOMETRY)


def check_area_code(area_code: str | None) -> str:
    """"" for everything, else a valid district/street/community/grid code (ValidationError otherwise)."""
    code = (area_code or "").strip()
    if code:
        level_of_code(code)
    return code


def incident_scope_codes(frame: pd.DataFrame) -> pd.Series:
    """The most precise known code of each incident: grid, else community, else street (NA if none)."""
    codes = pd.Series(pd.NA, index=frame.index, dtype="string")
    for column in ("street_code", "community_code", "grid_code"):
        if column in frame.columns:
            values = frame[column].astype("string")
            codes = values.where(values.notna() & (values != ""), codes)
    return codes


def starts_with_mask(codes: pd.Series, prefix: str) -> npt.NDArray[np.bool_]:
    """True where a code starts with ``prefix`` (NA: False), tested once per distinct code.

    Why: 200,000 incidents carry a few thousand distinct codes; a per-row ``str.startswith`` costs
    about 0.3 s, factorising and testing the distinct codes a few milliseconds.
    """
    ids, uniques = pd.factorize(codes, use_na_sentinel=True)
    hits = np.array([str(u).startswith(prefix) for u in uniques] + [False], dtype=bool)
    return hits[ids]  # the NA sentinel -1 picks the trailing False


def area_geometry(store: Store, area_code: str) -> shapely.Geometry:
    """The polygon of an area or active grid; NotFoundError when the code is unknown."""
    level = level_of_code(area_code)
    if level is AreaLevel.GRID:
        rows = active_grids(store)
        rows = rows[rows["code"] == area_code]
    else:
        rows = store.read(schema.AREAS, where={"code": area_code})
    if rows.empty:
        raise NotFoundError(f"area {area_code} not found")
    return shapely.union_all(rows.geometry.to_numpy())


def scoped(frame: pd.DataFrame, area_code: str, *, column: str = "code") -> pd.DataFrame:
    """Rows whose ``column`` starts with ``area_code`` (all rows for "")."""
    if not area_code or frame.empty:
        return frame
    return frame[frame[column].astype("string").fillna("").str.startswith(area_code).to_numpy(dtype=bool)]


def incidents_in_scope(
    store: Store,
    *,
    area_code: str = "",
    categories: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    columns: Sequence[str] = INCIDENT_COLUMNS,
) -> gpd.GeoDataFrame:
    """Incidents of the area (see the module docstring), of ``categories``, reported in ``[start, end)``.

    ``columns`` limits what is read (each column of 200,000 incidents costs a noticeable fraction of
    a second); the columns that scoping, filters and the exclusions need are always read.
    """
    area_code = check_area_code(area_code)
    wanted = {*columns, *_SCOPE_COLUMNS}
    if categories:
        wanted.add("category")
    if start is not None or end is not None:
        wanted.add(TIME_COLUMN)
    frame = store.read(schema.INCIDENTS, columns=sorted(wanted))
    assert isinstance(frame, gpd.GeoDataFrame)
    keep = ~frame["status"].isin(EXCLUDED_STATUSES).to_numpy(dtype=bool)
    keep &= frame["duplicate_of"].isna().to_numpy(dtype=bool)
    frame = frame[keep]
    if area_code:
        codes = incident_scope_codes(frame)
        inside = starts_with_mask(codes, area_code)
        unknown = codes.isna().to_numpy(dtype=bool)
        if unknown.any():
            shape = area_geometry(store, area_code)
            inside[unknown] = shapely.intersects(frame.geometry.to_numpy()[unknown], shape)
        frame = frame[inside]
    if "weight" in frame.columns:
        frame = frame.assign(weight=frame["weight"].fillna(1.0))
    frame = filter_incidents(frame, source=f"store {schema.INCIDENTS}", categories=categories, start=start, end=end)
    return gpd.GeoDataFrame(frame, geometry=frame.geometry.name, crs=frame.crs)


def communities_in_scope(store: Store, area_code: str) -> gpd.GeoDataFrame:
    areas = store.read(schema.AREAS, where={"level": AreaLevel.COMMUNITY.value})
    assert isinstance(areas, gpd.GeoDataFrame)
    if len(area_code) == AreaLevel.GRID.code_length:  # a grid account: its community
        return scoped(areas, area_code[: AreaLevel.COMMUNITY.code_length])
    return scoped(areas, area_code)


def grids_in_scope(store: Store, area_code: str) -> gpd.GeoDataFrame:
    grids = scoped(active_grids(store), area_code)
    return gpd.GeoDataFrame(grids, geometry=schema.GEOMETRY, crs=grids.crs)


def cells_from_store(store: Store, spec: CellSpec, *, area_code: str = "", per_households: bool = False) -> Cells:
    """The cells of ``spec`` over the area: its active grids, its communities, or H3/squares over its communities."""
    if spec.kind == "grids":
        grids = grids_in_scope(store, area_code)
        if grids.empty:
            raise ValidationError(
                f"no active grids in area {area_code or 'all'}; partition and activate first, or use"
                " --cells communities / h3:RES / square:METRES", code="no_cells")
        return cells_from_grids(grids, source=f"store {schema.GRIDS}")
    communities = communities_in_scope(store, area_code)
    if communities.empty:
        raise ValidationError(f"no communities in area {area_code or 'all'}", code="no_cells")
    if spec.kind == "communities":
        return cells_from_communities(communities, source=f"store {schema.AREAS}")
    area = area_geometry(store, area_code) if len(area_code) == AreaLevel.GRID.code_length else shapely.union_all(
        communities.geometry.to_numpy())
    if spec.kind == "h3":
        assert spec.h3_resolution is not None
        cells = h3_cells_from_area(area, spec.h3_resolution)
    else:
        assert spec.size_m is not None
        cells = square_cells_from_area(area, spec.size_m)
    if per_households:
        minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(area))
        buildings = store.read(schema.BUILDINGS, bbox=(minx, miny, maxx, maxy), columns=["households", schema.GEOMETRY])
        cells = with_households(cells, households_from_buildings(cells, buildings))
    return cells


def hotspots_from_store(
    store: Store,
    *,
    cells: str | CellSpec = "grids",
    options: HotspotOptions | None = None,
    area_code: str = "",
    categories: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
) -> HotspotResult:
    """Hot and cold spots of the area's incidents on the chosen cells (see ``analysis.hotspots``)."""
    opts = options or HotspotOptions()
    spec = cells if isinstance(cells, CellSpec) else cell_spec_from_text(cells)
    area_code = check_area_code(area_code)
    the_cells = cells_from_store(store, spec, area_code=area_code, per_households=opts.per_households)
    incidents = incidents_in_scope(store, area_code=area_code, categories=categories, start=start, end=end)
    result = hotspots_from_incidents(the_cells, incidents, opts, source=f"store {schema.INCIDENTS}")
    result.summary.update({"area_code": area_code, "categories": list(categories or []),
                           "start": None if start is None else str(start), "end": None if end is None else str(end)})
    return result


def emerging_from_store(
    store: Store,
    *,
    cells: str | CellSpec = "grids",
    period: str = "month",
    area_code: str = "",
    categories: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    permutations: int = 0,
    seed: int = 0,
    fdr: bool = True,
) -> EmergingResult:
    """Emerging-hotspot categories per cell from the area's incidents, by week or month."""
    spec = cells if isinstance(cells, CellSpec) else cell_spec_from_text(cells)
    area_code = check_area_code(area_code)
    the_cells = cells_from_store(store, spec, area_code=area_code)
    incidents = incidents_in_scope(store, area_code=area_code, categories=categories, start=start, end=end)
    result = emerging_from_incidents(the_cells, incidents, period=period, time_column=TIME_COLUMN,
                                     permutations=permutations, seed=seed, fdr=fdr,
                                     source=f"store {schema.INCIDENTS}")
    result.summary["area_code"] = area_code
    return result


def stats_from_store(store: Store, settings: Settings, *, level: str, area_code: str = "") -> AreaStatistics:
    """Per-area statistics for every area of ``level`` inside ``area_code``."""
    area_code = check_area_code(area_code)
    areas = store.read(schema.AREAS)
    assert isinstance(areas, gpd.GeoDataFrame)
    grids = grids_in_scope(store, area_code) if level == "grid" else None
    estates = store.read(schema.ESTATES) if level == "estate" else None
    units = units_for_level(level, areas=areas, grids=grids, estates=estates)
    if level == "estate" and area_code:
        units = units[units.intersects(area_geometry(store, area_code))].reset_index(drop=True)
    else:
        units = scoped(units, area_code)
    bbox = _bounds(units)
    buildings = store.read(schema.BUILDINGS, bbox=bbox) if bbox else store.read(schema.BUILDINGS).iloc[0:0]
    if area_code and len(buildings):  # the bbox also catches the neighbours' buildings: keep the area's own
        points = gpd.GeoSeries(buildings.geometry, crs=buildings.crs).representative_point().to_numpy()
        buildings = buildings[shapely.intersects(points, area_geometry(store, area_code))]
    incidents = incidents_in_scope(store, area_code=area_code)
    categories = sorted(set(incidents["category"].dropna().astype(str)))
    statuses = sorted(set(incidents["status"].dropna().astype(str)))
    return area_statistics(units, buildings=buildings, incidents=incidents,
                           settings=settings, categories=categories, statuses=statuses)


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    if frame.empty:
        return None
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    return minx, miny, maxx, maxy


@dataclass
class CoverageReport:
    """The coverage queries of one area (see ``analysis.coverage``); frames are plain tables."""

    area_code: str
    grids_without_worker: pd.DataFrame
    streets: pd.DataFrame
    uncovered: pd.DataFrame
    access: dict[str, Any]
    access_by_community: pd.DataFrame
    key_units: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None."""
        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.astype(object).where(frame.notna(), None)
            return [{str(k): v for k, v in r.items()} for r in clean.to_dict("records")]

        return {"area_code": self.area_code, "grids_without_worker": rows(self.grids_without_worker),
                "streets": rows(self.streets), "uncovered": rows(self.uncovered),
                "access": {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in self.access.items()},
                "access_by_community": rows(self.access_by_community), "key_units": rows(self.key_units),
                "notes": list(self.notes)}


def coverage_from_store(
    store: Store, *, area_code: str = "", distance_m: float = 1000.0, method: str = "network",
    facilities: gpd.GeoDataFrame | None = None,
) -> CoverageReport:
    """Every coverage query for the area; households within ``distance_m`` of a service centre.

    ``facilities`` replaces the service centres as the places measured from (e.g. worker bases,
    shelters: any points or polygons in lon/lat).
    """
    area_code = check_area_code(area_code)
    if not distance_m > 0:
        raise ValidationError(f"--distance must be a positive number of metres, got {distance_m}")
    grids = grids_in_scope(store, area_code)
    workers = store.read(schema.WORKERS)
    communities = communities_in_scope(store, area_code)
    streets = scoped(store.read(schema.AREAS, where={"level": AreaLevel.STREET.value}), area_code[:9])
    buildings = store.read(schema.BUILDINGS, columns=["building_id", "households", "community_code", schema.GEOMETRY])
    buildings = scoped(buildings, area_code[: AreaLevel.COMMUNITY.code_length], column="community_code")
    centres = store.read(schema.SERVICE_CENTRES) if facilities is None else facilities
    roads = store.read(schema.ROADS, columns=["road_class", schema.GEOMETRY]) if method == "network" else None
    notes: list[str] = []
    if buildings.empty:
        access: dict[str, Any] = {"distance_m": distance_m, "method": method, "households": 0.0,
                                  "households_within": 0.0, "share_within": float("nan")}
        by_comm = pd.DataFrame(columns=["code", "households", "households_within", "share_within"])
        notes.append("no buildings in the area: the access share is unknown")
    else:
        frame, access = households_within_distance(buildings, centres, distance_m,
                                                   method=method, roads=roads)
        by_comm = share_within_by_area(frame)
    units = scoped(store.read(schema.UNITS), area_code[: AreaLevel.COMMUNITY.code_length], column="community_code")
    return CoverageReport(
        area_code=area_code,
        grids_without_worker=grids_without_worker(grids, workers),
        streets=households_per_worker_by_street(grids, scoped(workers, area_code, column="grid_code"), streets),
        uncovered=uncovered_area_by_community(communities, grids),
        access=access, access_by_community=by_comm,
        key_units=key_units_with_responsibility(units, grids, workers),
        notes=notes,
    )
