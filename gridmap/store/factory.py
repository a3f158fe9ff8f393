"""``open_store``: which backend opens a store URL, decided by its scheme.

Why its own module: gridmap.store.base holds the Store protocol that every backend implements,
so base cannot also be the place that imports the backends without an import cycle. This
module sits above both: it knows the schemes and imports a backend only when a URL of its
scheme is opened, so a GeoPackage user never loads psycopg (and PostGIS users never pay for
the GeoPackage modules).

The scheme table is fixed (:data:`BUILTIN_SCHEMES`, read-only). Third-party stores plug in
through the ``gridmap.stores`` entry-point group of their distribution, e.g. in pyproject.toml::

    [project.entry-points."gridmap.stores"]
    duckdb = "gridmap_duckdb:DuckDBStore"

The entry point names the scheme and loads a ``(url, settings) -> Store`` callable. Built-in
schemes cannot be replaced that way: ``gpkg://`` always means the GeoPackage store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from types import MappingProxyType

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.store.base import Store

#: What a scheme resolves to: the store class (or any callable) taking (url, settings).
StoreFactory = Callable[[str, Settings], Store]
#: Imports a backend and returns its factory; called only when its scheme is opened.
StoreLoader = Callable[[], StoreFactory]
#: Entry-point group third-party stores register under (name = URL scheme).
ENTRY_POINT_GROUP = "gridmap.stores"


def _geopackage() -> StoreFactory:
    from gridmap.store.gpkg import GeoPackageStore

    return GeoPackageStore


def _postgis() -> StoreFactory:
    from gridmap.store.postgis import PostGISStore

    return PostGISStore


#: URL scheme -> loader of the built-in backends.
BUILTIN_SCHEMES: Mapping[str, StoreLoader] = MappingProxyType(
    {"gpkg": _geopackage, "postgresql": _postgis, "postgres": _postgis}
)


def _plugin_loaders() -> dict[str, StoreLoader]:
    """Installed ``gridmap.stores`` entry points (read on demand: only for a non-built-in scheme)."""
    return {ep.name: ep.load for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN_SCHEMES}


def store_loader(scheme: str, url: str) -> StoreLoader:
    """The loader for ``scheme``, or a ValidationError listing every scheme this install knows."""
    builtin = BUILTIN_SCHEMES.get(scheme)
    if builtin is not None:
        return builtin
    plugins = _plugin_loaders()
    if scheme in plugins:
        return plugins[scheme]
    known = sorted({*BUILTIN_SCHEMES, *plugins})
    raise ValidationError(f"unknown store scheme {scheme!r} in {url!r}; known: {', '.join(known)}")


def open_store(url: str | None, settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url`` (``settings.store_url`` when None)."""
    url = url or settings.store_url
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValidationError(
            f"store URL {url!r} has no scheme; use gpkg:///path/file.gpkg or postgresql://user@host/db"
        )
    store = store_loader(scheme, url)()(url, settings)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()  # a refused store (newer schema, other SRID) must not leave its pool's threads behind
            raise
    return store
