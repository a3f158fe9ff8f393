"""Storing a new report and its first event in one transaction, fast on PostGIS.

Why a special path: intake is the hottest write (target: >= 200 reports/s on one server). Through
the Store API a report costs two pandas frames and several round trips; on PostGIS it is one
``INSERT ... RETURNING`` feeding the event's ``INSERT`` in a single statement (one round trip, one
implicit transaction: both rows or neither). Other stores (the GeoPackage) take the Store API,
which also keeps the GeoPackage's own metadata (extents, last change) up to date.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb

from gridmap import schema
from gridmap.errors import ConflictError
from gridmap.incidents.query import IncidentFilter, Record, postgis_select, records_from_postgis, records_matching
from gridmap.store.base import Store


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _insert_postgis(store: Any, incident: Mapping[str, Any], lon: float, lat: float,
                    event: Mapping[str, Any], nearby: IncidentFilter | None) -> list[Record]:
    inc_cols = [c for c in schema.INCIDENTS_SPEC.column_names if c in incident]
    ev_cols = [c for c in schema.INCIDENT_EVENTS_SPEC.column_names if c in event and c != "incident_id"]
    # Data-modifying CTEs all run, once, on the snapshot taken before the statement: ``dup`` sees the
    # incidents as they were before this report, the two inserts land together or not at all.
    select, select_params = postgis_select(schema.INCIDENTS, nearby or IncidentFilter(ids=(), limit=1))
    statement = sql.SQL(
        "WITH dup AS ({select}), new AS (INSERT INTO {inc} ({inc_cols}, geometry) VALUES ({inc_vals}, "
        "ST_SetSRID(ST_MakePoint(%s, %s), {srid})) RETURNING incident_id), "
        "ev AS (INSERT INTO {ev} (incident_id, {ev_cols}) SELECT new.incident_id, {ev_vals} FROM new) "
        "SELECT * FROM dup"
    ).format(
        select=select,
        inc=sql.Identifier(schema.INCIDENTS), inc_cols=sql.SQL(", ").join(map(sql.Identifier, inc_cols)),
        inc_vals=sql.SQL(", ").join(sql.Placeholder() * len(inc_cols)), srid=sql.Literal(store.settings.storage_epsg),
        ev=sql.Identifier(schema.INCIDENT_EVENTS), ev_cols=sql.SQL(", ").join(map(sql.Identifier, ev_cols)),
        ev_vals=sql.SQL(", ").join(sql.Placeholder() * len(ev_cols)),
    )
    params = [*select_params, *(_plain(incident[c]) for c in inc_cols), lon, lat]
    params += [Jsonb(event[c]) if c == "detail" and event[c] is not None else _plain(event[c]) for c in ev_cols]
    try:
        rows = store.query(statement, params)
    except pg_errors.UniqueViolation as exc:
        raise ConflictError(f"layer 'incidents': incident {incident['incident_id']} exists already "
                            f"({exc.diag.message_detail}); nothing was written") from None
    return records_from_postgis(schema.INCIDENTS, rows) if nearby is not None else []


def insert_report(store: Store, incident: Mapping[str, Any], lon: float, lat: float,
                  event: Mapping[str, Any], *, nearby: IncidentFilter | None = None) -> list[Record]:
    """Write ``incident`` (INCIDENTS columns; the point at lon/lat) and ``event`` (its first INCIDENT_EVENTS
    row) atomically; ConflictError when the incident id or token exists already.

    Returns the incidents matching ``nearby`` as they were *before* this report (the duplicate
    candidates; [] without ``nearby``): on PostGIS in the same statement, saving a round trip.
    """
    from gridmap.store.postgis import PostGISStore

    if isinstance(store, PostGISStore):
        return _insert_postgis(store, incident, lon, lat, event, nearby)
    before = records_matching(store, nearby) if nearby is not None else []
    frame = gpd.GeoDataFrame([dict(incident)], geometry=[shapely.Point(lon, lat)], crs=store.settings.storage_epsg)
    with store.transaction() as tx:
        tx.insert(schema.INCIDENTS, frame)
        tx.insert(schema.INCIDENT_EVENTS, pd.DataFrame([dict(event)]))
    return before
