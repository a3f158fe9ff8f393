"""Which grid, community, street and worker serve a place: an in-memory point-in-polygon index.

Residents ask "who is my grid worker?" (R-28, R-30, G-17) and every incident point must be located to
a grid (C-7), so this is the hottest read path of gridmap. The index keeps the active grids in a
shapely ``STRtree`` (lon/lat, EPSG:4326) and answers single points and numpy batches.

Shared edge rule (deterministic, identical in ``lookup_sql``): grids are closed polygons, so a point on
an edge or vertex shared by several grids is *covered* by all of them; it belongs to the one with the
**smallest code**. Only the tiling kinds (base and dedicated grids, which together tile a community)
compete for a point; professional and micro grids are overlays reported next to the answer.

Distances to the nearest grid (for "outside every grid" answers) are measured in a projected working
CRS, in metres.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from gridmap import schema
from gridmap.analysis.lookup_people import PUBLIC_WORKER_FIELDS as PUBLIC_WORKER_FIELDS  # re-exported
from gridmap.analysis.lookup_people import (
    CentreInfo,
    WorkerCard,
    centres_by_area,
    leaders_by_code,
    text_or_none,
    workers_by_grid,
)
from gridmap.errors import NotFoundError
from gridmap.grid_generations import GenerationKey, generation_key_from_frame
from gridmap.model import AreaLevel, GridKind, WorkerRole

#: Kinds that tile a community and so compete for a point under the shared edge rule.
TILING_KINDS: frozenset[str] = frozenset({GridKind.BASE.value, GridKind.DEDICATED.value})
#: (generation_id, version) of every active generation, sorted: changes whenever lookup must rebuild.
#: Batches up to this many points use the STRtree; larger ones the sorted sweep (same answers).
_TREE_BATCH_MAX = 512
#: ... and so do batches under this many points per grid: the sweep costs ~10 µs per grid up front.
_TREE_POINTS_PER_GRID = 4


@dataclass(frozen=True)
class AreaInfo:
    code: str
    name: str
    level: str


@dataclass(frozen=True)
class GridInfo:
    code: str
    name: str
    kind: str
    subtype: str | None = None
    households: int | None = None


@dataclass(frozen=True)
class LookupResult:
    """Everything a resident needs about the place (lon, lat in WGS84 degrees)."""

    lon: float
    lat: float
    grid: GridInfo
    district: AreaInfo | None
    street: AreaInfo | None
    community: AreaInfo | None
    workers: tuple[WorkerCard, ...]
    leader: WorkerCard | None
    service_centre: CentreInfo | None
    overlays: tuple[GridInfo, ...] = ()
    geometry: BaseGeometry | None = field(default=None, compare=False, repr=False)

    def to_dict(self, *, include_geometry: bool = False) -> dict[str, Any]:
        """JSON-ready dict; the grid boundary (GeoJSON, lon/lat) only when asked for (it is large).

        Built by hand rather than with ``asdict`` of the whole result: that would deep-copy the
        geometry on every request (measured: 2/3 of the API's time).
        """
        def area(a: AreaInfo | None) -> dict[str, Any] | None:
            return None if a is None else asdict(a)

        body: dict[str, Any] = {
            "lon": self.lon,
            "lat": self.lat,
            "grid": asdict(self.grid),
            "district": area(self.district),
            "street": area(self.street),
            "community": area(self.community),
            "workers": [w.to_dict() for w in self.workers],
            "leader": None if self.leader is None else self.leader.to_dict(),
            "service_centre": None if self.service_centre is None else asdict(self.service_centre),
            "overlays": [asdict(o) for o in self.overlays],
        }
        if include_geometry and self.geometry is not None:
            body["grid"]["geometry"] = shapely.geometry.mapping(self.geometry)
        return body


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def metric_crs_for(bounds: Sequence[float]) -> CRS:
    """A projected CRS (metres) for distances around ``bounds`` (lon/lat)."""
    from gridmap.crs import working_crs_for

    return working_crs_for(tuple(float(b) for b in bounds))


class LookupIndex:
    """Immutable index over one set of active grids; build a new one when ``generation_key`` changes."""

    def __init__(
        self,
        areas: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
        workers: pd.DataFrame,
        centres: gpd.GeoDataFrame,
        *,
        generation_key: GenerationKey = (),
    ) -> None:
        self.generation_key = generation_key
        grids = grids.to_crs(4326) if grids.crs is not None and grids.crs.to_epsg() != 4326 else grids
        # every grid but the professional overlays, as services.hierarchy_view.base_grid_count counts them
        is_base = grids["kind"].astype("string").fillna("") != GridKind.PROFESSIONAL.value
        self._base_codes: tuple[str, ...] = tuple(sorted(grids.loc[is_base.to_numpy(dtype=bool), "code"].astype(str)))
        grids = grids.loc[grids.geometry.notna() & ~grids.geometry.is_empty]
        grids = grids.sort_values("code", kind="stable").reset_index(drop=True)
        is_tiling = grids["kind"].isin(list(TILING_KINDS)).to_numpy()
        self._tiling = grids.loc[is_tiling].reset_index(drop=True)
        self._overlay = grids.loc[~is_tiling].reset_index(drop=True)
        # Tiling grids sorted by code, so "smallest tree index" == "smallest code" (the edge rule).
        self._geoms: npt.NDArray[np.object_] = np.asarray(self._tiling.geometry.values, dtype=object)
        self._codes: npt.NDArray[np.object_] = self._tiling["code"].astype(object).to_numpy()
        self._tree = _prepared_tree(self._geoms)
        self._bounds = shapely.bounds(self._geoms).reshape(-1, 4)
        self._overlay_tree = _prepared_tree(np.asarray(self._overlay.geometry.values, dtype=object))
        self._grid_info = {str(r["code"]): _grid_info(r) for _, r in grids.iterrows()}
        self._areas = {str(r["code"]): AreaInfo(str(r["code"]), str(r["name"]), str(r["level"]))
                       for _, r in areas.iterrows()}
        communities = areas.loc[areas["level"] == AreaLevel.COMMUNITY.value].reset_index(drop=True)
        self._community_codes = communities["code"].astype(str).tolist()
        community_geoms = np.asarray(communities.geometry.values, dtype=object)
        self._community_tree = _prepared_tree(community_geoms)
        self._service_area = shapely.union_all(np.concatenate([self._geoms, community_geoms]))
        _prepared_tree(np.array([self._service_area], dtype=object))
        self._workers = workers_by_grid(workers)
        self._leaders = leaders_by_code(workers)
        self._centres = centres_by_area(centres)
        self._metric: CRS | None = None
        self._metric_tree: shapely.STRtree | None = None
        if len(self._geoms):
            self._metric = metric_crs_for(self._tiling.total_bounds)
            self._metric_tree = shapely.STRtree(np.asarray(self._tiling.to_crs(self._metric).geometry.values))

    @classmethod
    def from_frames(
        cls,
        areas: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
        workers: pd.DataFrame,
        centres: gpd.GeoDataFrame,
        *,
        generation_key: GenerationKey = (),
    ) -> LookupIndex:
        """Index already-filtered frames: ``grids`` must be the active ones only (schema columns)."""
        return cls(areas, grids, workers, centres, generation_key=generation_key)

    @classmethod
    def from_store(cls, store: Any) -> LookupIndex:
        """Index the active generation of every community in ``store`` (a gridmap Store)."""
        from gridmap.grid_generations import active_grids

        key = generation_key_from_frame(store.read(schema.GENERATIONS))
        return cls(
            store.read(schema.AREAS),
            active_grids(store),
            store.read(schema.WORKERS),
            store.read(schema.SERVICE_CENTRES),
            generation_key=key,
        )

    # -- questions -------------------------------------------------------------------------------

    @property
    def grid_count(self) -> int:
        return len(self._codes)

    def base_grid_count(self, area_code: str = "") -> int:
        """Active grids under ``area_code`` (``""``: all), professional overlays excluded; no store read.

        The same number as ``services.hierarchy_view.base_grid_count`` (the portal's "is this a
        city?" switch), from the codes this index already holds: the public resident page asks it on
        every view, where counting in the store costs 0.1-0.3 s at 60,000 grids (GeoPackage).
        """
        if not area_code:
            return len(self._base_codes)
        codes = self._base_codes  # sorted: the codes under a prefix are one run
        return bisect.bisect_left(codes, area_code + "\U0010ffff") - bisect.bisect_left(codes, area_code)

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min_lon, min_lat, max_lon, max_lat) of the active base/dedicated grids; None without grids."""
        if not len(self._geoms):
            return None
        return (float(self._bounds[:, 0].min()), float(self._bounds[:, 1].min()),
                float(self._bounds[:, 2].max()), float(self._bounds[:, 3].max()))

    @property
    def codes(self) -> tuple[str, ...]:
        """Codes of the tiling grids, sorted (the order of ``indices_many``)."""
        return tuple(str(c) for c in self._codes)

    def indices_many(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Index into ``codes`` of the grid serving each point (-1 outside every grid), vectorised.

        Both paths test "closed polygon covers point" (``intersects`` for a point) and keep the
        smallest code, i.e. the shared edge rule. Small batches use the STRtree; large batches sweep
        the points sorted by longitude past each grid's bounding box and test the candidates with
        the prepared polygon (``shapely.intersects_xy``), which avoids building a Point object per
        input and is ~5x faster (see benchmarks/lookup.py).
        """
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"lon and lat differ in length ({x.size} != {y.size})")
        if x.size == 0 or not len(self._codes):
            return np.full(x.size, -1, dtype=np.int64)
        if x.size <= max(_TREE_BATCH_MAX, _TREE_POINTS_PER_GRID * len(self._geoms)):
            return self._indices_by_tree(x, y)
        return self._indices_by_sweep(x, y)

    def _indices_by_tree(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        out = np.full(x.size, -1, dtype=np.int64)
        pt_idx, tree_idx = self._tree.query(shapely.points(x, y), predicate="intersects")
        if pt_idx.size:
            # Write the largest index first so the smallest (= smallest code) wins the last write.
            order = np.lexsort((-tree_idx, pt_idx))
            out[pt_idx[order]] = tree_idx[order]
        return out

    def _indices_by_sweep(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        out = np.full(x.size, -1, dtype=np.int64)
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], y[order]
        lo_all = np.searchsorted(xs, self._bounds[:, 0], side="left")
        hi_all = np.searchsorted(xs, self._bounds[:, 2], side="right")
        for k in range(len(self._geoms) - 1, -1, -1):  # descending code: the smallest writes last
            lo, hi = int(lo_all[k]), int(hi_all[k])
            band = ys[lo:hi]
            cand = np.flatnonzero((band >= self._bounds[k, 1]) & (band <= self._bounds[k, 3])) + lo
            if cand.size:
                hit = shapely.intersects_xy(self._geoms[k], xs[cand], ys[cand])
                out[order[cand[hit]]] = k
        return out

    def lookup_many(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """Grid code per point (None outside every grid); lon/lat in WGS84 degrees."""
        idx = self.indices_many(lon, lat)
        codes = np.empty(idx.size, dtype=object)
        inside = idx >= 0
        codes[inside] = self._codes[idx[inside]]
        return codes

    def covers_service_area(self, lon: float, lat: float) -> bool:
        """True when a grid or a community covers the point (used to detect swapped lon/lat)."""
        return bool(shapely.intersects_xy(self._service_area, lon, lat))

    def lookup(self, lon: float, lat: float) -> LookupResult:
        """The grid serving (lon, lat) and its people; NotFoundError naming the nearest grid if none."""
        i = int(self.indices_many([lon], [lat])[0])
        if i < 0:
            raise self._not_found(lon, lat)
        code = str(self._codes[i])
        info = self._grid_info[code]
        community_code = str(self._tiling.at[i, "community_code"])
        workers, leader = self._people_for(code, community_code)
        return LookupResult(
            lon=float(lon),
            lat=float(lat),
            grid=info,
            district=self._areas.get(community_code[:6]),
            street=self._areas.get(community_code[:9]),
            community=self._areas.get(community_code),
            workers=workers,
            leader=leader,
            service_centre=self._centre_for(community_code),
            overlays=self._overlays_at(lon, lat),
            geometry=self._geoms[i],
        )

    def grid_info(self, code: str) -> GridInfo:
        """Code, name, kind of any active grid (tiling or overlay)."""
        try:
            return self._grid_info[code]
        except KeyError:
            raise NotFoundError(f"grid {code} is not an active grid", details={"grid": code}) from None

    def grid_geometry(self, code: str) -> BaseGeometry:
        """The boundary (lon/lat) of an active tiling grid, for maps and cards."""
        hits = np.flatnonzero(self._codes == code)
        if not hits.size:
            raise NotFoundError(f"grid {code} is not an active base or dedicated grid", details={"grid": code})
        geom: BaseGeometry = self._geoms[int(hits[0])]
        return geom

    def result_for_grid(self, code: str) -> LookupResult:
        """The same answer as ``lookup`` for a point inside grid ``code`` (the grid card uses it)."""
        pt = shapely.point_on_surface(self.grid_geometry(code))
        result = self.lookup(pt.x, pt.y)
        if result.grid.code != code:  # a representative point on a shared edge of a smaller code
            raise NotFoundError(f"grid {code}: no interior point found", details={"grid": code})
        return result

    # -- helpers ---------------------------------------------------------------------------------

    def _overlays_at(self, lon: float, lat: float) -> tuple[GridInfo, ...]:
        hits = self._overlay_tree.query(shapely.Point(lon, lat), predicate="intersects")
        codes = sorted(str(self._overlay.at[int(h), "code"]) for h in hits)
        return tuple(self._grid_info[c] for c in codes)

    def _people_for(self, code: str, community_code: str) -> tuple[tuple[WorkerCard, ...], WorkerCard | None]:
        workers = tuple(self._workers.get(code, ()))
        leader = next((w for w in workers if w.role == WorkerRole.GRID_LEADER.value), None)
        if leader is None:
            leader = self._leaders.get(code) or self._leaders.get(community_code)
        return tuple(w for w in workers if w is not leader), leader

    def centre_of_area(self, area_code: str) -> CentreInfo | None:
        """The service centre registered for exactly this area code (street, community...), if any."""
        return self._centres.get(area_code)

    def _centre_for(self, community_code: str) -> CentreInfo | None:
        for code in (community_code, community_code[:9], community_code[:6]):
            if code in self._centres:
                return self._centres[code]
        return None

    def _not_found(self, lon: float, lat: float) -> NotFoundError:
        details: dict[str, Any] = {"lon": lon, "lat": lat, "nearest_grid": None, "distance_m": None}
        hits = self._community_tree.query(shapely.Point(lon, lat), predicate="intersects")
        if hits.size:
            details["community"] = asdict(self._areas[self._community_codes[int(min(hits))]])
        if self._metric_tree is None or self._metric is None:
            return NotFoundError(f"point ({lon}, {lat}) is not in any grid: no active grids", details=details)
        x, y = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).to_crs(self._metric).iloc[0].coords[0]
        if not (math.isfinite(x) and math.isfinite(y)):
            return NotFoundError(f"point ({lon}, {lat}) is not in any grid", details=details)
        hit, dist = self._metric_tree.query_nearest(shapely.Point(x, y), return_distance=True, all_matches=False)
        nearest = self._grid_info[str(self._codes[int(hit[0])])]
        distance_m = round(float(dist[0]), 1)
        details["nearest_grid"] = {"code": nearest.code, "name": nearest.name}
        details["distance_m"] = distance_m
        return NotFoundError(
            f"point ({lon}, {lat}) is outside every active grid; the nearest grid is {nearest.code}"
            f" {nearest.name}, {distance_m:.0f} m away",
            details=details,
        )


def _prepared_tree(geoms: npt.NDArray[np.object_]) -> shapely.STRtree:
    """An STRtree over prepared geometries, each used once so GEOS builds its lazy point locators now.

    Why: the index is shared by the portal's worker threads and GEOS fills a prepared geometry's
    internal caches on first use; doing that here, before the index is published, means threads
    only ever read them.
    """
    shapely.prepare(geoms)
    if len(geoms):
        bounds = shapely.bounds(geoms).reshape(-1, 4)
        shapely.intersects_xy(geoms, bounds[:, 0], bounds[:, 1])
    return shapely.STRtree(geoms)


def _grid_info(row: pd.Series) -> GridInfo:
    return GridInfo(
        code=str(row["code"]),
        name=str(row["name"]),
        kind=str(row["kind"]),
        subtype=text_or_none(row.get("subtype")),
        households=_int(row.get("households")),
    )
