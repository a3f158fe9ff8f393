"""Lookup use cases shared by the API, the resident page, the CLI and the grid card.

Input validation lives here (not in Flask or click) so every entry point rejects bad input the same
way: non-numeric or non-finite numbers, out-of-range degrees, unknown CRS names, swapped lon/lat,
oversized batches and empty addresses all become :class:`ValidationError` (400).

The index is rebuilt when a generation is activated. :class:`LookupService` remembers the
``generation_key`` (active generation ids + versions) of its index and re-reads the key from the
store at most every ``key_check_interval_s`` seconds (one small query); when it changed, it builds a
new index and swaps it in. Workers, service centres and addresses change without a new generation,
so a snapshot older than ``max_age_s`` (5 minutes) is rebuilt too. The service is an object the
caller owns (the portal keeps it in ``app.extensions``), not module state.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gridmap import schema
from gridmap.analysis.gazetteer import AddressCandidate, Gazetteer
from gridmap.analysis.lookup import PUBLIC_WORKER_FIELDS as PUBLIC_WORKER_FIELDS
from gridmap.analysis.lookup import LookupIndex, LookupResult
from gridmap.config import Settings
from gridmap.crs import CrsSpec, parse_crs, to_wgs84
from gridmap.errors import NotFoundError, ValidationError
from gridmap.grid_generations import generation_key_from_store
from gridmap.model import AreaLevel
from gridmap.store.base import Store

#: Most points one batch request may send (R-28 kiosks batch a few; importers use the library directly).
MAX_BATCH_POINTS = 10_000
#: Past instants (``as_of``) whose index a LookupService keeps at once.
AS_OF_CACHE = 8
#: Longest address accepted (a real one is < 60 characters; this bounds the fuzzy matching work).
MAX_ADDRESS_CHARS = 200


def number_from_text(value: Any, *, name: str) -> float:
    """A finite float from user input (query string, JSON, CLI), or a ValidationError naming ``name``."""
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a number, got {value!r}", details={"parameter": name})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number, got {value!r}", details={"parameter": name}) from None
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be a finite number, got {value!r}", details={"parameter": name})
    return number


def crs_from_text(text: str | None) -> CrsSpec:
    """The CRS of the input coordinates; WGS84 when not given."""
    return parse_crs("wgs84" if text is None or not str(text).strip() else str(text))


def _check_degrees(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], crs: CrsSpec) -> npt.NDArray[np.bool_]:
    """Mask of points whose lon/lat are outside [-180, 180] x [-90, 90] (geographic input only)."""
    if not crs.is_geographic:
        return np.zeros(x.shape, dtype=bool)
    return (np.abs(x) > 180.0) | (np.abs(y) > 90.0)


@dataclass(frozen=True)
class AddressAnswer:
    """Ranked address candidates with the grid of each; ``result`` answers the best one (None if outside grids)."""

    query: str
    candidates: tuple[tuple[AddressCandidate, str | None, str | None], ...]  # candidate, grid code, grid name
    result: LookupResult | None

    def to_dict(self, *, include_geometry: bool = False) -> dict[str, Any]:
        return {
            "query": self.query,
            "candidates": [
                {**asdict(c), "grid_code": code, "grid_name": name} for c, code, name in self.candidates
            ],
            "result": None if self.result is None else self.result.to_dict(include_geometry=include_geometry),
        }


@dataclass(frozen=True)
class _Snapshot:
    index: LookupIndex
    gazetteer: Gazetteer
    built_at: float  # service clock, seconds


def gazetteer_from_store(store: Store) -> Gazetteer:
    areas = store.read(schema.AREAS, columns=["code", "name", "level"])
    names = areas.loc[areas["level"] != AreaLevel.GRID.value, "name"].astype(str).tolist()
    return Gazetteer.from_frames(store.read(schema.BUILDINGS), store.read(schema.ESTATES), area_names=names)


class LookupService:
    """Answers lookups from an index that follows the store's active generations (thread-safe)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        key_check_interval_s: float = 1.0,
        max_age_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.key_check_interval_s = key_check_interval_s
        #: Workers, centres and addresses change without a new generation: rebuild at least this often.
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked_at = -math.inf
        self.rebuilds = 0
        #: Indexes of past instants (``as_of``), by the generation ids in force then; a few are kept.
        self._as_of: OrderedDict[tuple[int, ...], tuple[float, LookupIndex]] = OrderedDict()

    # -- index management ------------------------------------------------------------------------

    def _current(self) -> _Snapshot:
        """The snapshot to answer from; at most one thread checks the key, the others keep answering.

        The key check (one small store read, ~5 ms on a GeoPackage) runs outside ``_lock`` so it never
        stalls concurrent requests; a rebuild runs under ``_build_lock`` so it happens once.
        """
        now = self._clock()
        with self._lock:
            snap = self._snapshot
            if snap is not None and now - self._checked_at < self.key_check_interval_s:
                return snap
            self._checked_at = now  # claimed: other threads answer from ``snap`` meanwhile
        if (
            snap is not None
            and now - snap.built_at < self.max_age_s
            and generation_key_from_store(self.store) == snap.index.generation_key
        ):
            return snap
        with self._build_lock:
            current = self._snapshot
            if current is not None and current is not snap:
                return current  # another thread rebuilt while we waited
            fresh = _Snapshot(LookupIndex.from_store(self.store), gazetteer_from_store(self.store), now)
            self._refresh_sql_side_table()
            with self._lock:
                self._snapshot = fresh
                self.rebuilds += 1
            return fresh

    def _refresh_sql_side_table(self) -> None:
        """On PostGIS, keep the SQL answer's subdivided side table in step with the index."""
        if hasattr(self.store, "query"):
            from gridmap.analysis.lookup_sql import refresh_if_stale

            refresh_if_stale(self.store)

    def index(self) -> LookupIndex:
        """The index of the active grids, rebuilt first if a generation was activated since."""
        return self._current().index

    def index_as_of(self, when: Any) -> LookupIndex:
        """The index of the grids in force at ``when`` (ISO 8601 text or a datetime; naive = UTC).

        Boundaries come from the generations active then (retired ones stay queryable); the workers and
        service centres shown are today's, by grid code. Indexes are cached by the generation ids in
        force (at most ``AS_OF_CACHE`` of them, rebuilt after ``max_age_s``).
        """
        from gridmap.services.generations import generation_ids_as_of, grids_as_of, parse_as_of

        ts = parse_as_of(when)
        key = tuple(generation_ids_as_of(self.store, ts))
        now = self._clock()
        with self._lock:
            hit = self._as_of.get(key)
            if hit is not None and now - hit[0] < self.max_age_s:
                self._as_of.move_to_end(key)
                return hit[1]
        index = LookupIndex.from_frames(
            self.store.read(schema.AREAS), grids_as_of(self.store, ts), self.store.read(schema.WORKERS),
            self.store.read(schema.SERVICE_CENTRES), generation_key=tuple((g, 0) for g in key),
        )  # fmt: skip
        with self._lock:
            self._as_of[key] = (now, index)
            while len(self._as_of) > AS_OF_CACHE:
                self._as_of.popitem(last=False)
        return index

    def _index_for(self, as_of: Any) -> LookupIndex:
        return self.index() if as_of is None else self.index_as_of(as_of)

    def invalidate(self) -> None:
        """Rebuild on the next request (call after changing grids, workers or addresses in-process)."""
        with self._lock:
            self._checked_at = -math.inf
            self._snapshot = None

    # -- questions -------------------------------------------------------------------------------

    def wgs84_from_input(self, x: Any, y: Any, *, crs: str | None = None) -> tuple[float, float]:
        """Validated (lon, lat) in WGS84 from user coordinates in ``crs`` (default wgs84)."""
        spec = crs_from_text(crs)
        fx, fy = number_from_text(x, name="lon" if spec.is_geographic else "x"), number_from_text(
            y, name="lat" if spec.is_geographic else "y"
        )
        if _check_degrees(np.array([fx]), np.array([fy]), spec)[0]:
            self._raise_if_swapped(fx, fy, spec)
            raise ValidationError(
                f"coordinates ({fx}, {fy}) are out of range for {spec.name}: lon must be in [-180, 180] and lat"
                " in [-90, 90]",
                details={"lon": fx, "lat": fy, "crs": spec.name},
            )
        lon, lat = to_wgs84(fx, fy, spec)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValidationError(f"coordinates ({fx}, {fy}) cannot be converted from {spec.name} to WGS84")
        return float(lon), float(lat)

    def _raise_if_swapped(self, x: float, y: float, spec: CrsSpec) -> None:
        """ValidationError when (x, y) is outside the service area but (y, x) is inside it."""
        if not spec.is_geographic or abs(x) > 90 or abs(y) > 180:
            return  # (y, x) would not even be valid lon/lat
        index = self.index()
        if abs(x) <= 180 and abs(y) <= 90 and index.covers_service_area(*to_wgs84(x, y, spec)):
            return
        if index.covers_service_area(*to_wgs84(y, x, spec)):
            raise ValidationError(
                f"coordinates ({x}, {y}) look swapped: ({x}, {y}) is outside the service area but ({y}, {x}) is"
                " inside it; send longitude first, then latitude",
                code="swapped_coordinates",
                details={"lon": x, "lat": y, "suggestion": [y, x]},
            )

    def lookup_point(self, x: Any, y: Any, *, crs: str | None = None, as_of: Any = None) -> LookupResult:
        """The grid and people serving a point given in ``crs``; 404 outside every grid, 400 if swapped.

        ``as_of`` (ISO 8601) answers with the grids in force at that instant instead of today's.
        """
        spec = crs_from_text(crs)
        lon, lat = self.wgs84_from_input(x, y, crs=crs)
        try:
            return self._index_for(as_of).lookup(lon, lat)
        except NotFoundError:
            self._raise_if_swapped(float(x), float(y), spec)
            raise

    def lookup_point_sql(self, x: Any, y: Any, *, crs: str | None = None) -> dict[str, Any]:
        """The same answer as :meth:`lookup_point`, computed by PostGIS SQL (postgresql:// stores only).

        For checking the in-process index against the database, and for systems that only have SQL.
        """
        from gridmap.analysis.lookup_sql import lookup_sql, refresh_if_stale

        lon, lat = self.wgs84_from_input(x, y, crs=crs)
        refresh_if_stale(self.store)
        return lookup_sql(self.store, lon, lat)

    def lookup_points(self, points: Any, *, crs: str | None = None, as_of: Any = None) -> list[str | None]:
        """Grid code per point (None outside every grid) for up to MAX_BATCH_POINTS ``[x, y]`` pairs."""
        xy = self._batch_array(points)
        spec = crs_from_text(crs)
        bad = _check_degrees(xy[:, 0], xy[:, 1], spec)
        if bad.any():
            where = np.flatnonzero(bad)[:10].tolist()
            raise ValidationError(
                f"points {where} are out of range for {spec.name} (lon in [-180, 180], lat in [-90, 90])",
                details={"points": where},
            )
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1], spec)
        return list(self._index_for(as_of).lookup_many(lon, lat))

    @staticmethod
    def _batch_array(points: Any) -> npt.NDArray[np.float64]:
        if not isinstance(points, Sequence) or isinstance(points, str | bytes):
            raise ValidationError('batch lookup: "points" must be a list of [lon, lat] pairs')
        if len(points) > MAX_BATCH_POINTS:
            raise ValidationError(
                f"batch lookup: {len(points)} points is more than the limit of {MAX_BATCH_POINTS} per request;"
                " split the batch",
                code="batch_too_large",
                details={"points": len(points), "limit": MAX_BATCH_POINTS},
            )
        for i, p in enumerate(points):
            if (
                not isinstance(p, Sequence) or isinstance(p, str) or len(p) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
            ):
                raise ValidationError(f"batch lookup: point {i} is {p!r}, expected [lon, lat] numbers",
                                      details={"point": i})
        xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        bad = ~np.isfinite(xy).all(axis=1)
        if bad.any():
            raise ValidationError(f"batch lookup: points {np.flatnonzero(bad)[:10].tolist()} are not finite numbers")
        return xy

    def search_address(self, text: Any, *, limit: int = 5) -> AddressAnswer:
        """Candidates for an address with their grids; NotFoundError when nothing matches at all."""
        if not isinstance(text, str):
            raise ValidationError("address must be text")
        if len(text) > MAX_ADDRESS_CHARS:
            raise ValidationError(f"address search: the address has {len(text)} characters; at most"
                                  f" {MAX_ADDRESS_CHARS} are accepted", details={"limit": MAX_ADDRESS_CHARS})
        snap = self._current()
        candidates = snap.gazetteer.search(text, limit=limit)
        if not candidates:
            raise NotFoundError(f"no building or estate matches the address {text.strip()!r}",
                                details={"address": text.strip()})
        codes = snap.index.lookup_many([c.lon for c in candidates], [c.lat for c in candidates])
        rows = []
        for cand, code in zip(candidates, codes, strict=True):
            name = None if code is None else snap.index.grid_info(str(code)).name
            rows.append((cand, None if code is None else str(code), name))
        # The full answer is for the best candidate only: a lower-ranked building's grid would mislead.
        best = candidates[0]
        result = snap.index.lookup(best.lon, best.lat) if codes[0] is not None else None
        return AddressAnswer(text.strip(), tuple(rows), result)

    def result_for_grid(self, code: str) -> LookupResult:
        """The resident answer for one grid by its code (grid card, ``/resident?grid=``)."""
        return self.index().result_for_grid(code)
