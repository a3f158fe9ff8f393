"""The lookup questions answered by PostGIS in SQL (the production store), with the same edge rule.

Why a side table: grids of rural villages can have thousands of vertices, and ST_Covers on a big
polygon costs time proportional to its vertex count. Like MapIt, we keep ``lookup_grid_parts``: every
active grid cut by ``ST_Subdivide(geom, 64)`` into pieces of at most 64 vertices, with a GiST index,
so a point test touches a few small pieces. The table is rebuilt in one statement (readers see the
old or the new contents, never a mix) whenever the active generations change: ``lookup_state`` keeps
a fingerprint of the active generations (ids, versions, activation times) and
:func:`refresh_if_stale` compares it.

Edge rule, as in :mod:`gridmap.analysis.lookup`: among the base and dedicated grids whose closed
polygon covers the point (``ST_Covers``), the smallest code wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from psycopg import sql

from gridmap import schema
from gridmap.analysis.lookup import TILING_KINDS
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import GenerationStatus

PARTS_TABLE = "lookup_grid_parts"
STATE_TABLE = "lookup_state"
#: Most vertices per piece; 64 is a good balance between index size and per-piece test cost.
SUBDIVIDE_MAX_VERTICES = 64

_PARTS = sql.Identifier(PARTS_TABLE)
_STATE = sql.Identifier(STATE_TABLE)
_GRIDS = sql.Identifier(schema.GRIDS)
_GENS = sql.Identifier(schema.GENERATIONS)
_AREAS = sql.Identifier(schema.AREAS)
_GEOM = sql.Identifier(schema.GEOMETRY)


class SqlStore(Protocol):
    """What this module needs from a store: PostGISStore.query and its settings."""

    settings: Any

    def query(self, statement: sql.SQL | sql.Composed, params: Any = None) -> list[tuple[Any, ...]]: ...


def _require_sql(store: Any) -> SqlStore:
    if not hasattr(store, "query"):
        raise ValidationError(f"store {store.url}: SQL lookup needs a PostGIS store (postgresql://...)")
    db: SqlStore = store
    return db


def _srid(store: SqlStore) -> int:
    return int(store.settings.storage_epsg)


def _fingerprint_sql() -> sql.Composed:
    return sql.SQL(
        "SELECT md5(coalesce(string_agg(generation_id || ':' || version || ':' || coalesce(activated_at::text, ''),"
        " ',' ORDER BY generation_id), '')) FROM {} WHERE status = {}"
    ).format(_GENS, sql.Literal(GenerationStatus.ACTIVE.value))


def refresh_lookup_parts(store: Any) -> int:
    """Rebuild the subdivided side table from the active grids in ONE statement; returns the piece count."""
    db = _require_sql(store)
    statement = sql.SQL(
        "WITH fp AS ({fingerprint}),"
        " del AS (DELETE FROM {parts}),"
        " ins AS (INSERT INTO {parts} (grid_fid, code, kind, tiling, geom)"
        "   SELECT g.fid, g.code, g.kind, g.kind = ANY(%(tiling)s), ST_Subdivide(g.{geom}, %(max_vertices)s)"
        "   FROM {grids} g JOIN {gens} gen ON gen.generation_id = g.generation_id"
        "   WHERE gen.status = %(active)s AND NOT ST_IsEmpty(g.{geom}) RETURNING 1),"
        " n AS (SELECT count(*) AS c FROM ins)"
        " INSERT INTO {state} (id, fingerprint, refreshed_at, parts) SELECT 1, (SELECT * FROM fp), now(), n.c FROM n"
        " ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, refreshed_at = EXCLUDED.refreshed_at,"
        " parts = EXCLUDED.parts RETURNING parts"
    ).format(fingerprint=_fingerprint_sql(), parts=_PARTS, geom=_GEOM, grids=_GRIDS, gens=_GENS, state=_STATE)
    rows = db.query(
        statement,
        {
            "tiling": sorted(TILING_KINDS),
            "max_vertices": SUBDIVIDE_MAX_VERTICES,
            "active": GenerationStatus.ACTIVE.value,
        },
    )
    return int(rows[0][0])


def refresh_if_stale(store: Any) -> bool:
    """Rebuild the side table when the active generations changed since the last refresh; True if rebuilt."""
    db = _require_sql(store)
    rows = db.query(
        sql.SQL("SELECT ({}) IS DISTINCT FROM (SELECT fingerprint FROM {} WHERE id = 1)").format(
            _fingerprint_sql(), _STATE
        )
    )
    if rows[0][0]:
        refresh_lookup_parts(db)
        return True
    return False


def _point_sql(srid: int) -> sql.Composed:
    return sql.SQL("ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {})").format(sql.Literal(srid))


def lookup_many_sql(store: Any, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Grid code per point (None outside), like LookupIndex.lookup_many, in one round trip."""
    db = _require_sql(store)
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"lon and lat differ in length ({x.size} != {y.size})")
    if x.size == 0:
        return np.empty(0, dtype=object)
    statement = sql.SQL(
        "SELECT (SELECT min(p.code) FROM {parts} p WHERE p.tiling AND ST_Covers(p.geom, q.pt))"
        " FROM (SELECT t.ord, ST_SetSRID(ST_MakePoint(t.x, t.y), {srid}) AS pt"
        "       FROM unnest(%(xs)s::float8[], %(ys)s::float8[]) WITH ORDINALITY AS t(x, y, ord)) q"
        " ORDER BY q.ord"
    ).format(parts=_PARTS, srid=sql.Literal(_srid(db)))
    rows = db.query(statement, {"xs": x.tolist(), "ys": y.tolist()})
    out = np.empty(len(rows), dtype=object)
    out[:] = [r[0] for r in rows]
    return out


def lookup_sql(store: Any, lon: float, lat: float) -> dict[str, Any]:
    """Grid, hierarchy (codes and names) and overlays for one point, all from SQL.

    Outside every grid: NotFoundError naming the nearest active grid and its geodesic distance (m).
    """
    db = _require_sql(store)
    params = {"lon": float(lon), "lat": float(lat)}
    statement = sql.SQL(
        "SELECT p.code, p.tiling FROM {parts} p WHERE ST_Covers(p.geom, {pt}) GROUP BY p.code, p.tiling"
        " ORDER BY p.tiling DESC, p.code"
    ).format(parts=_PARTS, pt=_point_sql(_srid(db)))
    hits = db.query(statement, params)
    tiling = [str(code) for code, is_tiling in hits if is_tiling]
    if not tiling:
        raise _not_found_sql(db, float(lon), float(lat))
    code = tiling[0]
    info = _grid_rows(db, [code, *[str(c) for c, t in hits if not t]])
    community = str(info[code]["community_code"])
    names = _area_names(db, [community[:6], community[:9], community])
    return {
        "lon": float(lon),
        "lat": float(lat),
        "grid": {k: info[code][k] for k in ("code", "name", "kind", "subtype")},
        "district": names.get(community[:6]),
        "street": names.get(community[:9]),
        "community": names.get(community),
        "overlays": [{k: info[c][k] for k in ("code", "name", "kind", "subtype")}
                     for c, t in hits if not t and c in info],
    }


def _grid_rows(db: SqlStore, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    statement = sql.SQL(
        "SELECT g.code, g.name, g.kind, g.subtype, g.community_code FROM {grids} g"
        " JOIN {gens} gen ON gen.generation_id = g.generation_id"
        " WHERE gen.status = %(active)s AND g.code = ANY(%(codes)s)"
    ).format(grids=_GRIDS, gens=_GENS)
    rows = db.query(statement, {"active": GenerationStatus.ACTIVE.value, "codes": list(codes)})
    keys = ("code", "name", "kind", "subtype", "community_code")
    return {str(r[0]): dict(zip(keys, r, strict=True)) for r in rows}


def _area_names(db: SqlStore, codes: Sequence[str]) -> dict[str, dict[str, str]]:
    rows = db.query(
        sql.SQL("SELECT code, name, level FROM {} WHERE code = ANY(%s)").format(_AREAS), [list(codes)]
    )
    return {str(c): {"code": str(c), "name": str(n), "level": str(lv)} for c, n, lv in rows}


def _not_found_sql(db: SqlStore, lon: float, lat: float) -> NotFoundError:
    """The nearest active tiling grid by geodesic distance (KNN on the parts, then exact distance)."""
    statement = sql.SQL(
        "SELECT c.code, ST_Distance(c.geom::geography, {pt}::geography) AS d FROM"
        " (SELECT p.code, p.geom FROM {parts} p WHERE p.tiling ORDER BY p.geom <-> {pt} LIMIT 16) c"
        " ORDER BY d, c.code LIMIT 1"
    ).format(parts=_PARTS, pt=_point_sql(_srid(db)))
    rows = db.query(statement, {"lon": lon, "lat": lat})
    details: dict[str, Any] = {"lon": lon, "lat": lat, "nearest_grid": None, "distance_m": None}
    if not rows:
        return NotFoundError(f"point ({lon}, {lat}) is not in any grid: no active grids", details=details)
    code, distance = str(rows[0][0]), round(float(rows[0][1]), 1)
    name = _grid_rows(db, [code])[code]["name"]
    details["nearest_grid"] = {"code": code, "name": name}
    details["distance_m"] = distance
    return NotFoundError(
        f"point ({lon}, {lat}) is outside every active grid; the nearest grid is {code} {name}, {distance:.0f} m away",
        details=details,
    )
