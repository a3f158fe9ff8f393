"""Household (户) counts for buildings: taken from the data when given, else estimated.

The grid size band is counted in households, and most boundary data has none, so buildings
carry an estimate the planner can work with until survey counts arrive. The estimate is::

    households = round(footprint_m2 × floors × residential_floor_ratio / dwelling_area_m2)

* ``footprint_m2``: the polygon's area in m², measured in a metric working CRS (never in degrees);
* ``floors``: the building's levels attribute (``building:levels``, 层数...) when it is a positive
  number, else ``settings.default_floors``;
* ``residential_floor_ratio`` (share of floor area that is flats, the rest is stairs, walls,
  shops) and ``dwelling_area_m2`` (m² of gross floor area per flat) come from Settings;
* a residential building has at least 1 household (a small detached house is still a home);
* non-residential building types (OSM ``building=industrial, commercial, retail, office, school,
  church, garage(s), shed``..., an untyped building with an amenity, and the Chinese 工业, 商业,
  办公, 学校, 医院, 仓库...) get 0. Untyped buildings (OSM ``building=yes``) count as residential:
  in Chinese residential districts most are, and an over-count is visible in review.

Point buildings have no footprint: they take the households column when the file has one, else
a settings-based default (``settings.extra["point_footprint_m2"]``, 400 m² unless set, through the
same formula), with a warning in the import report. Every estimated value is flagged
``households_estimated = True`` so reports can tell survey counts from guesses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.config import Settings
from gridmap.crs import working_crs_for

#: Footprint (m²) assumed for a point building without households, unless settings.extra overrides it.
DEFAULT_POINT_FOOTPRINT_M2 = 400.0


def _words(text: str) -> list[str]:
    return text.split()


#: Building types that hold no dwellings (OSM building=* values and common Chinese use words).
NON_RESIDENTIAL_TYPES = frozenset(
    # OSM building=*: work, trade, public, religious, farm, technical, vehicles, temporary
    _words("""
    industrial commercial retail office warehouse factory manufacture kiosk supermarket hotel bank school
    university college kindergarten hospital clinic public civic government townhall fire_station police
    museum library theatre cinema sports_hall sports_centre stadium grandstand pavilion church chapel
    cathedral mosque temple shrine synagogue monastery religious place_of_worship barn cowshed stable sty
    farm_auxiliary greenhouse glasshouse silo garage garages carport parking shed hut roof service utility
    transformer_tower water_tower tower storage_tank bunker bridge ship hangar train_station transportation
    station toilets ruins construction entrance underpass_entrance atrium boathouse gatehouse tent container
    restaurant cafe
    """)
    # Chinese land-use / building-use words
    + _words("工业 厂房 商业 商铺 商场 办公 写字楼 学校 医院 仓库 车库 公共 宗教 寺庙 教堂 农业 市场")
)

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class HouseholdResult:
    """Per-building columns for the buildings layer, plus warnings for the import report."""

    households: pd.Series  # Int64
    estimated: pd.Series  # boolean
    floors: pd.Series  # Int64, NA when unknown
    footprint_m2: pd.Series  # float64, NaN for points
    warnings: list[str] = field(default_factory=list)


def floors_from_levels(values: Sequence[Any] | pd.Series) -> pd.Series:
    """Positive whole floors from a levels attribute ("6", "5.5", "3;4", 7), NA when missing or odd.

    A value with several numbers ("3;4", OSM's way of tagging varying heights) takes the largest;
    half floors round up (attic flats exist).
    """

    def parse(value: Any) -> float:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return np.nan
        numbers = [float(m) for m in _NUMBER.findall(str(value))]
        top = max(numbers, default=np.nan)
        return float(np.ceil(top)) if top > 0 else np.nan

    parsed = [parse(v) for v in values]
    return pd.Series(pd.array([None if np.isnan(v) else int(v) for v in parsed], dtype="Int64"))


def is_residential(building_types: Sequence[Any] | pd.Series) -> np.ndarray:
    """True unless the type is a known non-residential one (missing or generic types count as homes).

    ``amenity:<value>`` types (OSM ``building=yes`` + ``amenity=*``, see gridmap.io.osm) are not homes.
    """

    def residential(value: Any) -> bool:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return True
        text = str(value).strip().lower()
        return text not in NON_RESIDENTIAL_TYPES and not text.startswith("amenity:")

    return np.array([residential(t) for t in building_types], dtype=bool)


def households_from_floor_area(
    footprint_m2: np.ndarray, floors: np.ndarray, residential: np.ndarray, settings: Settings
) -> np.ndarray:
    """The estimate formula of the module docstring, vectorised; inputs in m² and floors."""
    flats = footprint_m2 * floors * settings.residential_floor_ratio / settings.dwelling_area_m2
    rounded = np.rint(np.nan_to_num(flats, nan=0.0)).astype(np.int64)
    return np.where(residential, np.maximum(rounded, 1), 0)


def footprints_m2(geometries: np.ndarray, *, crs: Any = "EPSG:4326") -> np.ndarray:
    """Area in m² of each (lon/lat) geometry, measured in the working CRS; NaN for non-polygons."""
    series = gpd.GeoSeries(geometries, crs=crs)
    polygonal = np.asarray(series.geom_type.isin(["Polygon", "MultiPolygon"]), dtype=bool)
    out = np.full(len(series), np.nan)
    if polygonal.any():
        part = series[polygonal]
        metric = part.to_crs(working_crs_for(tuple(part.total_bounds)))
        out[polygonal] = shapely.area(np.asarray(metric.to_numpy()))
    return out


def estimate_households(
    geometries: np.ndarray,
    *,
    settings: Settings,
    given: pd.Series | None = None,
    levels: pd.Series | None = None,
    building_types: pd.Series | None = None,
) -> HouseholdResult:
    """Households per building: ``given`` where present, else the estimate (see module docstring)."""
    n = len(geometries)
    area = footprints_m2(geometries)
    floors = floors_from_levels(levels if levels is not None else [None] * n)
    floors_used = floors.astype("float64").fillna(float(settings.default_floors)).to_numpy()
    residential = is_residential(building_types if building_types is not None else [None] * n)
    is_point = np.isnan(area)
    point_m2 = float(settings.extra.get("point_footprint_m2", DEFAULT_POINT_FOOTPRINT_M2))
    estimate = households_from_floor_area(np.where(is_point, point_m2, area), floors_used, residential, settings)
    have = pd.Series(pd.array([None] * n, dtype="Int64")) if given is None else given.reset_index(drop=True)
    missing = have.isna().to_numpy()
    households = have.copy()
    households[missing] = estimate[missing]
    warnings: list[str] = []
    defaulted = int((missing & is_point).sum())
    if defaulted:
        per = int(
            households_from_floor_area(
                np.array([point_m2]), np.array([float(settings.default_floors)]), np.array([True]), settings
            )[0]
        )
        warnings.append(
            f"{defaulted} point building(s) had no households; assumed {per} each for residential ones "
            f"({point_m2:g} m² × {settings.default_floors} floors × {settings.residential_floor_ratio:g} / "
            f"{settings.dwelling_area_m2:g} m²); give a households column (--map households=COLUMN) to avoid this"
        )
    return HouseholdResult(
        households=households.astype("Int64"),
        estimated=pd.Series(pd.array(missing, dtype="boolean")),
        floors=floors,
        footprint_m2=pd.Series(area),
        warnings=warnings,
    )
