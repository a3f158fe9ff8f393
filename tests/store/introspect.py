"""What a store's database physically holds (tables, column types, NOT NULL, unique keys, spatial indexes).

The contract suite compares this with gridmap.schema.LAYERS; the queries differ per backend, the
comparison does not. Types are normalised to the logical types of gridmap.schema.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import psycopg

from gridmap.schema import FID, GEOMETRY, LAYERS
from gridmap.store.base import Store
from gridmap.store.gpkg import GeoPackageStore
from gridmap.store.postgis import INTERNAL_TABLES, PostGISStore

_GPKG_TYPES = {"TEXT": "text", "INTEGER": "int", "REAL": "float", "BOOLEAN": "bool", "DATETIME": "datetime",
               **{g: "geometry" for g in ("MULTIPOLYGON", "LINESTRING", "MULTILINESTRING", "POINT", "GEOMETRY")}}
_PG_TYPES = {
    "text": "text",
    "bigint": "int",
    "double precision": "float",
    "boolean": "bool",
    "timestamp(3) with time zone": "datetime",
    "jsonb": "json",
}
_PG_GEOMETRY = {"multipolygon": "MULTIPOLYGON", "linestring": "LINESTRING", "point": "POINT",
                "geometry": "GEOMETRY", "multilinestring": "MULTILINESTRING"}


@dataclass
class Table:
    #: (name, physical type normalised, not null) in table order; json shows as "text" in a GeoPackage.
    columns: list[tuple[str, str, bool]] = field(default_factory=list)
    unique: set[tuple[str, ...]] = field(default_factory=set)
    geometry: tuple[str, int] | None = None  # (geometry type, srid) from the metadata tables
    spatial_index: bool = False


def expected_schema(store: Store) -> dict[str, Table]:
    """gridmap.schema.LAYERS as the store should hold it (a GeoPackage keeps json as TEXT)."""
    json_type = "text" if isinstance(store, GeoPackageStore) else "json"
    tables = {}
    for spec in LAYERS.values():
        table = Table(columns=[(FID, "int", True)])
        table.columns += [(c.name, json_type if c.type == "json" else c.type, not c.nullable) for c in spec.columns]
        if spec.geometry_type is not None:
            table.columns.append((GEOMETRY, "geometry", False))
            declared = spec.geometry_type
            if isinstance(store, GeoPackageStore) and declared == "GEOMETRY" and store.count(spec.name) == 0:
                declared = "MULTIPOLYGON"  # free-typed layers are declared by content; empty = polygons
            table.geometry = (declared, store.settings.storage_epsg)
            table.spatial_index = True
        table.unique = {tuple(k) for k in ([spec.key] if spec.key else []) + list(spec.unique)}
        tables[spec.name] = table
    return tables


def physical_schema(store: Store) -> dict[str, Table]:
    if isinstance(store, GeoPackageStore):
        return _gpkg_schema(store)
    if isinstance(store, PostGISStore):
        return _pg_schema(store)
    raise TypeError(f"no introspection for {type(store).__name__}")


def _gpkg_schema(store: GeoPackageStore) -> dict[str, Table]:
    conn = sqlite3.connect(store.path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'gpkg_%' "
            "AND name NOT LIKE 'rtree_%' AND name NOT LIKE 'sqlite_%' AND name != 'gridmap_migrations' "
            "AND name != 'layer_styles'")]  # QGIS's styles table (gpkg_metadata), not a gridmap layer
        tables: dict[str, Table] = {}
        for name in names:
            table = Table()
            for _, col, typ, notnull, _, _ in conn.execute(f'PRAGMA table_info("{name}")'):
                table.columns.append((col, _GPKG_TYPES.get(typ, typ), bool(notnull)))
            for _, index, unique, origin, _ in conn.execute(f'PRAGMA index_list("{name}")'):
                if unique and origin != "pk":
                    table.unique.add(tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{index}")')))
            geo = conn.execute("SELECT geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
                               [name]).fetchone()
            table.geometry = (geo[0], geo[1]) if geo else None
            table.spatial_index = bool(conn.execute(
                "SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = 'gpkg_rtree_index'",
                [name]).fetchone()) and bool(conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = ?", [f"rtree_{name}_geometry"]).fetchone())
            tables[name] = table
        return tables
    finally:
        conn.close()


def _pg_schema(store: PostGISStore) -> dict[str, Table]:
    with psycopg.connect(store._conninfo) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' AND table_name NOT IN ('spatial_ref_sys', 'schema_migrations')"
            " AND NOT (table_name = ANY(%s))", [list(INTERNAL_TABLES)])]
        tables: dict[str, Table] = {}
        for name in names:
            table = Table()
            rows = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", [name])
            for col, typ, notnull in rows:
                if typ.startswith("geometry"):
                    typ = "geometry"
                table.columns.append((str(col), _PG_TYPES.get(str(typ), str(typ)), bool(notnull)))
            for (cols,) in conn.execute(
                "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
                "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = %s::regclass AND i.indisunique AND NOT i.indisprimary GROUP BY i.indexrelid",
                [name]):
                table.unique.add(tuple(cols))
            geo = conn.execute("SELECT type, srid FROM geometry_columns WHERE f_table_name = %s", [name]).fetchone()
            table.geometry = (_PG_GEOMETRY[geo[0].lower()], geo[1]) if geo else None
            table.spatial_index = bool(conn.execute(
                "SELECT 1 FROM pg_indexes WHERE tablename = %s AND indexdef ILIKE '%%USING gist (geometry)%%'",
                [name]).fetchone())
            tables[name] = table
        return tables
