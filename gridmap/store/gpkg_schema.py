"""GeoPackage schema upkeep: the migration runner and the ``gpkg_rtree_index`` extension.

Why here and not in SQL files: the R-tree index of a layer is seven triggers that are the same
for every geometry table (OGC 12-128 Annex F.3, written as GDAL writes them), so they are derived
from gpkg_geometry_columns instead of being copied into each migration. The runner creates any
missing index after the numbered migrations, which makes a new geometry layer indexed by default.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.schema import FID, GEOMETRY, LAYERS
from gridmap.store.migrations import migrations_for

#: PRAGMA application_id of a GeoPackage: the ASCII bytes 'GPKG'.
APPLICATION_ID = 0x47504B47
#: PRAGMA user_version: GeoPackage 1.3.0 (1.4 adds nothing we use; Debian's GDAL 3.6 warns on 1.4).
USER_VERSION = 10300
#: SRS a gridmap store may use for its layers (the rows exist in gpkg_spatial_ref_sys).
SUPPORTED_SRS = (4326, 4490)
MIGRATIONS_TABLE = "gridmap_migrations"
RTREE_EXTENSION = ("gpkg_rtree_index", "http://www.geopackage.org/spec120/#extension_rtree", "write-only")

_BOUNDS = "ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})"
_TRIGGERS = (
    "CREATE TRIGGER {name_insert} AFTER INSERT ON {t} WHEN (new.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c})) "
    "BEGIN INSERT OR REPLACE INTO {r} VALUES (NEW.{i}, {bounds}); END",
    "CREATE TRIGGER {name_update6} AFTER UPDATE OF {c} ON {t} WHEN OLD.{i} = NEW.{i} AND "
    "(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c})) AND (OLD.{c} NOTNULL AND NOT ST_IsEmpty(OLD.{c})) "
    "BEGIN UPDATE {r} SET minx = ST_MinX(NEW.{c}), maxx = ST_MaxX(NEW.{c}), miny = ST_MinY(NEW.{c}), "
    "maxy = ST_MaxY(NEW.{c}) WHERE id = NEW.{i}; END",
    "CREATE TRIGGER {name_update7} AFTER UPDATE OF {c} ON {t} WHEN OLD.{i} = NEW.{i} AND "
    "(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c})) AND (OLD.{c} ISNULL OR ST_IsEmpty(OLD.{c})) "
    "BEGIN INSERT INTO {r} VALUES (NEW.{i}, {bounds}); END",
    "CREATE TRIGGER {name_update2} AFTER UPDATE OF {c} ON {t} WHEN OLD.{i} = NEW.{i} AND "
    "(NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c})) BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END",
    "CREATE TRIGGER {name_update5} AFTER UPDATE ON {t} WHEN OLD.{i} != NEW.{i} AND "
    "(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c})) BEGIN DELETE FROM {r} WHERE id = OLD.{i}; "
    "INSERT OR REPLACE INTO {r} VALUES (NEW.{i}, {bounds}); END",
    "CREATE TRIGGER {name_update4} AFTER UPDATE ON {t} WHEN OLD.{i} != NEW.{i} AND "
    "(NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c})) BEGIN DELETE FROM {r} WHERE id IN (OLD.{i}, NEW.{i}); END",
    "CREATE TRIGGER {name_delete} AFTER DELETE ON {t} WHEN old.{c} NOT NULL "
    "BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END",
)


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rtree_name(table: str, column: str = GEOMETRY) -> str:
    """The R-tree table of a geometry column, named as the extension requires."""
    return f"rtree_{table}_{column}"


def split_statements(script: str) -> list[str]:
    """SQL statements of a migration file, one per entry (triggers with inner ';' stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    rest = [ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if rest:
        raise ValidationError(f"migration ends with an incomplete statement: {rest[0][:80]!r}")
    return statements


def _check_is_geopackage(conn: sqlite3.Connection, path: Path) -> None:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    tables = int(conn.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0])
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
        raise ValidationError(
            f"{path} is a SQLite database but not a GeoPackage (application_id {app_id:#x}); "
            "gridmap will not add its layers to it"
        )


def migrate_connection(conn: sqlite3.Connection, *, path: Path, srs_id: int) -> int:
    """Apply missing numbered migrations on a connection inside a write transaction; returns the version."""
    if srs_id not in SUPPORTED_SRS:
        raise ValidationError(f"storage_epsg {srs_id} is not supported; use one of {SUPPORTED_SRS}")
    _check_is_geopackage(conn, path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    if int(conn.execute("PRAGMA user_version").fetchone()[0]) < USER_VERSION:
        conn.execute(f"PRAGMA user_version = {USER_VERSION}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DATETIME NOT NULL)"
    )
    applied = {int(r[0]) for r in conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE}")}
    known = migrations_for("gpkg")
    if applied - {m.version for m in known}:
        raise StoreUnavailableError(
            f"{path} has schema version {max(applied)}, newer than this gridmap knows ({len(known)}); upgrade gridmap"
        )
    for migration in known:
        if migration.version in applied:
            continue
        for statement in split_statements(migration.sql):
            conn.execute(statement, {"srs_id": srs_id} if ":srs_id" in statement else {})
        conn.execute(
            f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            [migration.version, migration.name],
        )
    _check_srs(conn, path, srs_id)
    return len(known)


def _check_srs(conn: sqlite3.Connection, path: Path, srs_id: int) -> None:
    stored = conn.execute(
        "SELECT table_name, srs_id FROM gpkg_geometry_columns WHERE srs_id != ? "
        "AND table_name IN (SELECT value FROM json_each(?))",
        [srs_id, "[" + ",".join(f'"{name}"' for name in LAYERS) + "]"],
    ).fetchall()
    if stored:
        table, other = stored[0]
        raise ValidationError(
            f"{path} stores layer {table!r} in EPSG:{other} but settings.storage_epsg is {srs_id}; "
            "use the same storage CRS as when the file was created"
        )


def ensure_rtree_indexes(conn: sqlite3.Connection) -> None:
    """Create the R-tree table, its triggers and its gpkg_extensions row for every gridmap geometry layer."""
    registered = conn.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
    for table, column in registered:
        name = rtree_name(table, column)
        if table not in LAYERS or conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [name]).fetchone():
            continue
        t, c, i, r = q(table), q(column), q(FID), q(name)
        conn.execute(f"CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy)")
        conn.execute(
            f"INSERT INTO {r} SELECT {i}, ST_MinX({c}), ST_MaxX({c}), ST_MinY({c}), ST_MaxY({c}) "
            f"FROM {t} WHERE {c} NOT NULL AND NOT ST_IsEmpty({c})"
        )
        names = {f"name_{kind}": q(f"{name}_{kind}")
                 for kind in ("insert", "update6", "update7", "update2", "update5", "update4", "delete")}
        for template in _TRIGGERS:
            conn.execute(template.format(t=t, c=c, i=i, r=r, bounds=_BOUNDS.format(c=c), **names))
        conn.execute("INSERT OR IGNORE INTO gpkg_extensions VALUES (?, ?, ?, ?, ?)", [table, column, *RTREE_EXTENSION])
