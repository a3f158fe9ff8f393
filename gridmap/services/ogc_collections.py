"""The layers gridmap offers as OGC API Features collections, and who may read each.

Why a catalogue: QGIS's "OGC API Features" provider, ``ogrinfo OAPIF:`` and other city platforms
discover layers from ``/ogc/collections``; each collection here says which store layer feeds it,
which rows belong to it (areas of one level in force, the active grids), its stable feature id,
the properties it publishes and whether the anonymous public may read it.

Scoping is the same as on every other API: public collections (the boundaries and the service
centres, which residents look up anyway) go to everyone, and a signed-in caller gets the part in
their own area; scoped collections (buildings, incidents) need a key or session and return only
rows whose ``community_code`` lies in the caller's area. Personal fields (reporters, tokens,
photos) are never published here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd

from gridmap import schema
from gridmap.auth.principal import Principal
from gridmap.errors import AuthenticationError, NotFoundError
from gridmap.model import AreaLevel
from gridmap.services.generations import active_grids
from gridmap.store.base import BBox, Store

Reader = Callable[[Store, BBox | None], gpd.GeoDataFrame]


@dataclass(frozen=True)
class Collection:
    """One OGC API collection: a view of a store layer."""

    id: str
    title: str
    description: str
    read: Reader
    id_column: str
    properties: tuple[str, ...]
    #: True: anyone may read it; False: a key or session is needed and rows are scoped by area.
    public: bool
    #: The column whose code places a row in an area (scoping).
    area_column: str


def _areas(level: AreaLevel) -> Reader:
    def read(store: Store, bbox: BBox | None) -> gpd.GeoDataFrame:
        frame = store.read(schema.AREAS, where={"level": level.value}, bbox=bbox)
        if len(frame):
            now = pd.Timestamp(datetime.now(UTC))
            frame = frame[frame["valid_to"].isna() | (frame["valid_to"] > now)]
        return frame.reset_index(drop=True)

    return read


def _grids(store: Store, bbox: BBox | None) -> gpd.GeoDataFrame:
    grids = active_grids(store)
    if bbox is not None and len(grids):
        grids = grids[grids.intersects(_box(bbox))]
    return grids.reset_index(drop=True)


def _layer(layer: str) -> Reader:
    def read(store: Store, bbox: BBox | None) -> gpd.GeoDataFrame:
        return store.read(layer, bbox=bbox).reset_index(drop=True)

    return read


def _box(bbox: BBox) -> object:
    import shapely

    return shapely.box(*bbox)


_AREA_PROPS = ("code", "name", "level", "parent_code", "households", "population")
COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection("districts", "区/县 Districts", "Districts (区/县) in force.", _areas(AreaLevel.DISTRICT),
               "code", _AREA_PROPS, True, "code"),
    Collection("streets", "街道/乡镇 Streets", "Streets and townships (街道/乡镇) in force.", _areas(AreaLevel.STREET),
               "code", _AREA_PROPS, True, "code"),
    Collection("communities", "社区/村 Communities", "Communities and villages (社区/村) in force.",
               _areas(AreaLevel.COMMUNITY), "code", _AREA_PROPS, True, "code"),
    Collection("grids", "网格 Grids", "Grids (网格) of every community's active generation.", _grids, "code",
               ("code", "name", "kind", "subtype", "community_code", "generation_id", "households", "population",
                "area_m2"), True, "code"),
    Collection("service_centres", "服务中心 Service centres", "Service centres (网格化服务管理中心, 党群服务中心).",
               _layer(schema.SERVICE_CENTRES), "centre_id",
               ("centre_id", "name", "area_code", "address", "phone", "opening_hours"), True, "area_code"),
    Collection("buildings", "楼栋 Buildings", "Buildings (楼栋) with floors and households; key or session needed.",
               _layer(schema.BUILDINGS), "building_id",
               ("building_id", "name", "road_name", "house_number", "estate_id", "estate_name", "building_no",
                "floors", "households", "households_estimated", "community_code"), False, "community_code"),
    Collection("incidents", "事件 Incidents", "Incidents (事件) and their status; key or session needed.",
               _layer(schema.INCIDENTS), "incident_id",
               ("incident_id", "category", "status", "level", "urgent", "reported_at", "updated_at", "closed_at",
                "deadline_at", "grid_code", "community_code", "street_code", "address"), False, "community_code"),
)}  # fmt: skip


def collection(collection_id: str) -> Collection:
    """The collection ``collection_id``; NotFoundError naming the known ones."""
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFoundError(
            f"no collection {collection_id!r}; collections: {', '.join(COLLECTIONS)}", code="unknown_collection"
        )
    return found


def visible_collections(principal: Principal) -> list[Collection]:
    """The collections ``principal`` may read (the public ones for the public, all for staff)."""
    return [c for c in COLLECTIONS.values() if c.public or not principal.is_public]


def require_readable(principal: Principal, found: Collection) -> None:
    """401 for the public on a scoped collection (the same answer whether it holds rows or not)."""
    if principal.is_public and not found.public:
        raise AuthenticationError(f"collection {found.id!r} needs an API key or a session")


def rows_for(principal: Principal, found: Collection, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows of ``frame`` the principal may see: all of a public collection for the public, the
    caller's own area when signed in (401 for the public on a scoped collection)."""
    require_readable(principal, found)
    if principal.is_public or principal.area_code == "" or frame.empty:
        return frame
    codes = frame[found.area_column].astype("string").fillna("")
    return frame[codes.str.startswith(principal.area_code).to_numpy(dtype=bool)]


__all__ = ["COLLECTIONS", "Collection", "collection", "require_readable", "rows_for", "visible_collections"]
