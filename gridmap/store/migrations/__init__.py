"""Numbered schema migrations, one directory per backend (``gpkg/``, ``postgis/``).

Why numbered files: a store created by an older gridmap must be upgraded in place, in order, and
each step must run exactly once. A file is ``NNNN_name.sql`` (NNNN = version, 1, 2, 3... without
gaps); each store records applied versions in its own table (``gridmap_migrations`` in a
GeoPackage, ``schema_migrations`` in PostGIS) and runs the missing ones in one transaction.

PostGIS files are composed with ``psycopg.sql.SQL(text).format(srid=...)``: write ``{srid}`` where
the storage SRID goes and double any other brace. GeoPackage files are split into statements
and may bind ``:srs_id``.

Never edit a migration that has shipped: add the next number. The store contract suite compares
the migrated database with ``gridmap.schema.LAYERS``, so a schema change without a migration
fails the tests of both stores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from gridmap.errors import GridmapError

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(backend: str) -> list[Migration]:
    """The migrations of ``backend`` in version order; a gap or duplicate number is a packaging bug."""
    folder = resources.files(__name__).joinpath(backend)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise GridmapError(f"migrations of {backend!r} must be numbered 1..n without gaps; found {versions}")
    return found


def latest_version(backend: str) -> int:
    """The schema version this gridmap brings for ``backend``."""
    return len(migrations_for(backend))
