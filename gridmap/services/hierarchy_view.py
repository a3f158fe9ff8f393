"""What the portal pages and the API read from the store: current areas, active grids, and their counts.

Kept apart from the blueprints so pages and the API read the hierarchy the same way, and so the
reading can be tested without a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import geopandas as gpd
import pandas as pd

from gridmap import schema
from gridmap.model import AreaLevel, GridKind
from gridmap.services.generations import active_generation_ids, active_grids
from gridmap.store import Store

#: A DataFrame or GeoDataFrame: filtering keeps the type.
FrameT = TypeVar("FrameT", bound=pd.DataFrame)

_LEVEL = schema.AREAS_SPEC.column("level").name
_VALID_TO = schema.AREAS_SPEC.column("valid_to").name
_HOUSEHOLDS = schema.AREAS_SPEC.column("households").name
_KIND = schema.GRIDS_SPEC.column("kind").name


@dataclass(frozen=True)
class HierarchyCounts:
    """Numbers for the page header. ``grids`` excludes professional overlays (they double-count)."""

    districts: int
    streets: int
    communities: int
    grids: int
    #: Households (户): the communities' counts where known, else the sum over the grids; None if neither.
    households: int | None


def current_areas(store: Store, *, level: AreaLevel | None = None) -> gpd.GeoDataFrame:
    """Areas in force now (``valid_to`` empty or in the future), optionally one level."""
    where = {_LEVEL: level.value} if level is not None else None
    areas = store.read(schema.AREAS, where=where)
    if not isinstance(areas, gpd.GeoDataFrame):  # a store must return geometry layers as GeoDataFrames
        raise TypeError(f"store {store!r} returned {type(areas).__name__} for layer {schema.AREAS}")
    return _in_force(areas)


def _in_force(areas: FrameT) -> FrameT:
    """The rows whose ``valid_to`` is empty or in the future, renumbered."""
    if _VALID_TO in areas.columns and len(areas):
        now = pd.Timestamp(datetime.now(UTC))
        areas = areas[areas[_VALID_TO].isna() | (areas[_VALID_TO] > now)]
    return areas.reset_index(drop=True)


def hierarchy_frames(store: Store) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(current areas of every level, grids of every community's active generation)."""
    return current_areas(store), active_grids(store).reset_index(drop=True)


#: The columns of :func:`hierarchy_attributes`: what the counts and the scoping need, no geometry.
AREA_ATTRIBUTES = ("code", "level", "households", "valid_to")
GRID_ATTRIBUTES = ("code", "kind", "households", "community_code")


def hierarchy_attributes(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like :func:`hierarchy_frames` without geometry: enough to count and scope a city cheaply."""
    areas = _in_force(store.read(schema.AREAS, columns=list(AREA_ATTRIBUTES)))
    ids = active_generation_ids(store)
    grids = store.read(schema.GRIDS, where={"generation_id": ids or [-1]}, columns=list(GRID_ATTRIBUTES))
    return areas, grids.reset_index(drop=True)


def base_grid_count(store: Store, area_code: str = "") -> int:
    """Active base grids (professional overlays excluded, as in :class:`HierarchyCounts`) under ``area_code``.

    An attribute-only read of two columns, so a page can ask "is this a city?" (see
    ``portal.maps.tiled.city_tiles_root``) before it reads any geometry. ``""``: every grid.
    """
    ids = active_generation_ids(store)
    grids = store.read(schema.GRIDS, where={"generation_id": ids or [-1]}, columns=["code", _KIND])
    if grids.empty:
        return 0
    keep = grids[_KIND].astype("string").fillna("") != GridKind.PROFESSIONAL.value
    if area_code:
        keep = keep & grids["code"].astype("string").fillna("").str.startswith(area_code)
    return int(keep.sum())


def _sum_known(values: pd.Series) -> int | None:
    known = pd.to_numeric(values, errors="coerce").dropna()
    return int(known.sum()) if len(known) else None


def hierarchy_counts(areas: pd.DataFrame, grids: pd.DataFrame) -> HierarchyCounts:
    """Counts per level and the household total shown in the header."""
    levels = areas[_LEVEL].value_counts() if len(areas) else pd.Series(dtype=int)
    base = grids[grids[_KIND] != GridKind.PROFESSIONAL.value] if len(grids) else grids
    communities = areas[areas[_LEVEL] == AreaLevel.COMMUNITY.value] if len(areas) else areas
    households = _sum_known(communities[_HOUSEHOLDS]) if len(communities) else None
    if households is None and len(base):
        households = _sum_known(base[_HOUSEHOLDS])
    return HierarchyCounts(
        districts=int(levels.get(AreaLevel.DISTRICT.value, 0)),
        streets=int(levels.get(AreaLevel.STREET.value, 0)),
        communities=int(levels.get(AreaLevel.COMMUNITY.value, 0)),
        grids=len(base),
        households=households,
    )
