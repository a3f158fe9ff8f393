"""One ``ST_AsMVT`` statement per tile (the PostGIS path).

The WHERE clause hits the layer's GiST index with ``geometry && ST_Transform(envelope, srid)``
(the envelope buffered by 64 of 4096 units, as ST_AsMVTGeom clips); polygons and lines are
simplified to one tile unit in Web Mercator before ST_AsMVTGeom quantises them. Scoping is a
``starts_with(area_column, prefix)`` on the hierarchical codes (prefix '' for everyone). All
values are parameters; names come from the layer catalogue through ``sql.Identifier``.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from gridmap.tiles.grid import BUFFER, EXTENT, Tile
from gridmap.tiles.layers import TileLayer

_ENVELOPE = sql.SQL("ST_TileEnvelope(%(z)s, %(x)s, %(y)s)")
_BUFFERED = sql.SQL("ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s)")


def _filters(layer: TileLayer) -> sql.Composed:
    parts: list[sql.Composable] = [sql.SQL("t.geometry && ST_Transform({}, %(srid)s)").format(_BUFFERED),
             sql.SQL("starts_with(t.{}, %(prefix)s)").format(sql.Identifier(layer.area_column))]  # fmt: skip
    if layer.level is not None:
        parts.append(sql.SQL("t.level = %(level)s AND (t.valid_to IS NULL OR t.valid_to > now())"))
    if layer.active_grids:
        parts.append(sql.SQL("t.generation_id IN (SELECT generation_id FROM generations WHERE status = 'active')"))
    return sql.SQL(" AND ").join(parts)


def tile_statement(layer: TileLayer, tile: Tile, *, srid: int, prefix: str) -> tuple[sql.Composed, dict[str, Any]]:
    """The statement and its parameters for ``layer``'s tile; it returns one bytea row."""
    params: dict[str, Any] = {"z": tile.z, "x": tile.x, "y": tile.y, "margin": BUFFER / EXTENT, "srid": srid,
                              "prefix": prefix, "level": layer.level, "name": layer.name, "extent": EXTENT,
                              "buffer": BUFFER, "pixel": tile.pixel_m}  # fmt: skip
    table = sql.Identifier(layer.layer)
    mercator = sql.SQL("ST_Transform(t.geometry, 3857)")
    if layer.aggregate_below and tile.z < layer.aggregate_below:
        params["cell"] = tile.size_m * layer.cell_px / EXTENT
        rows = sql.SQL(
            "SELECT ST_AsMVTGeom(ST_SnapToGrid({m}, %(cell)s), {env}, %(extent)s, %(buffer)s, true) AS geom, "
            "count(*)::int AS count FROM {t} t WHERE {where} GROUP BY ST_SnapToGrid({m}, %(cell)s)"
        ).format(m=mercator, env=_ENVELOPE, t=table, where=_filters(layer))
    else:
        columns = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in layer.properties)
        rows = sql.SQL(
            "SELECT ST_AsMVTGeom(CASE WHEN GeometryType(t.geometry) LIKE '%%POINT' THEN {m} "
            "ELSE ST_Simplify({m}, %(pixel)s, true) END, {env}, %(extent)s, %(buffer)s, true) AS geom, {cols} "
            "FROM {t} t WHERE {where}"
        ).format(m=mercator, env=_ENVELOPE, cols=columns, t=table, where=_filters(layer))
    statement = sql.SQL(
        "SELECT coalesce(ST_AsMVT(r, %(name)s, %(extent)s, 'geom'), ''::bytea) FROM ({rows}) AS r "
        "WHERE r.geom IS NOT NULL"
    ).format(rows=rows)
    return statement, params


__all__ = ["tile_statement"]
