"""What GIS clients read about a gridmap GeoPackage besides the rows: declared geometry types,
Chinese column titles (``gpkg_schema`` extension) and default QGIS styles (``layer_styles``).

Why: QGIS and GDAL show a layer with a GEOMETRY column as "Unknown", ask the planner which
geometry type to load and style it at random. The buildings and units layers take polygons or
points (a survey office's footprints or an address register's points), so their column is
created as GEOMETRY; :func:`declare_geometry_types` narrows the declared type to what the layer
holds (POLYGON, MULTIPOLYGON, POINT...) in the same transaction as every write, and widens it
back to GEOMETRY only when the layer really mixes points and polygons.

Titles come from :mod:`gridmap.store.column_titles`; styles are QML files exported by QGIS
itself (``scripts/make_qgis_styles.py``) with the field aliases added here, so QGIS 3.22, which
does not read gpkg_data_columns, shows the Chinese titles too. A style the user saved as default
in QGIS is never replaced: ours is written only when the layer has no default style.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from importlib import resources

from gridmap.schema import GEOMETRY, LAYERS, layer_spec
from gridmap.store.column_titles import LAYER_TITLES, column_title

#: ISO WKB type codes (2D) and the GeoPackage geometry type names they declare.
_WKB_NAMES = {1: "POINT", 2: "LINESTRING", 3: "POLYGON", 4: "MULTIPOINT", 5: "MULTILINESTRING", 6: "MULTIPOLYGON"}
#: Sets of WKB types one declared type covers: a MULTIPOLYGON column may hold one-part polygons
#: (GDAL and QGIS read them as MultiPolygons of one part), likewise for points and lines.
_WIDENED = {frozenset({1, 4}): "MULTIPOINT", frozenset({2, 5}): "MULTILINESTRING", frozenset({3, 6}): "MULTIPOLYGON"}

SCHEMA_EXTENSION = "http://www.geopackage.org/spec121/#extension_schema"
_DATA_COLUMNS_DDL = (
    "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
    "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE (table_name, name))",
    "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, "
    "constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, "
    "max_is_inclusive BOOLEAN, description TEXT, CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))",
)
#: The layer_styles table exactly as QGIS creates it in a GeoPackage (QgsOgrProviderUtils::saveStyle).
_LAYER_STYLES_DDL = (
    "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), "
    "f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), "
    "styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
    "update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)
#: Layers that get a full QGIS style (symbology, labels); every other layer gets its aliases only.
STYLED_LAYERS = ("grids", "buildings", "incidents")
STYLE_NAME = "gridmap default"


def declared_type_for(codes: set[int]) -> str:
    """The GeoPackage geometry type name that covers WKB type ``codes`` (GEOMETRY for a mix)."""
    if not codes:
        return "GEOMETRY"
    if len(codes) == 1 and next(iter(codes)) in _WKB_NAMES:
        return _WKB_NAMES[next(iter(codes))]
    return _WIDENED.get(frozenset(codes), "GEOMETRY")


def declare_geometry_types(conn: sqlite3.Connection, layers: set[str]) -> None:
    """Set gpkg_geometry_columns.geometry_type_name of each free-typed layer in ``layers`` to what it holds.

    An empty layer is declared by what gridmap expects most (polygons), so a client that opens a
    fresh store sees a polygon layer rather than Unknown. ``gridmap_wkb_type`` is registered on
    every store connection (gpkg_binary.register_sql_functions).
    """
    for layer in sorted(layers):
        if layer_spec(layer).geometry_type != "GEOMETRY":
            continue
        codes = {int(row[0]) for row in conn.execute(
            f'SELECT DISTINCT gridmap_wkb_type("{GEOMETRY}") FROM "{layer}" WHERE "{GEOMETRY}" IS NOT NULL'
        ) if row[0] is not None}  # fmt: skip
        declared = declared_type_for(codes) if codes else "MULTIPOLYGON"
        conn.execute(
            "UPDATE gpkg_geometry_columns SET geometry_type_name = ? WHERE table_name = ? AND column_name = ?",
            [declared, layer, GEOMETRY],
        )


def ensure_data_columns(conn: sqlite3.Connection) -> None:
    """The gpkg_schema extension with a Chinese title for every column, and layer titles in gpkg_contents."""
    for statement in _DATA_COLUMNS_DDL:
        conn.execute(statement)
    for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', ?, 'read-write')",
            [table, SCHEMA_EXTENSION],
        )
    for name, spec in LAYERS.items():
        conn.executemany(
            "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title) VALUES (?, ?, ?, ?)",
            [(name, c.name, column_title(name, c.name), column_title(name, c.name)) for c in spec.columns],
        )
        conn.execute(
            "UPDATE gpkg_contents SET identifier = ?, description = ? WHERE table_name = ?",
            [LAYER_TITLES[name], spec.description, name],
        )


def style_qml(layer: str) -> str:
    """The default QML of ``layer``: QGIS's exported symbology (for STYLED_LAYERS) plus Chinese aliases."""
    if layer in STYLED_LAYERS:
        text = resources.files("gridmap.store").joinpath("qgis_styles", f"{layer}.qml").read_text(encoding="utf-8")
        root = ET.fromstring(text)  # noqa: S314  (our own packaged file, not user input)
        root.set("styleCategories", root.get("styleCategories", "Symbology") + "|Fields")
    else:
        root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": "Fields"})
    aliases = ET.SubElement(root, "aliases")
    for index, column in enumerate(layer_spec(layer).columns, start=1):  # index 0 is the fid
        title = column_title(layer, column.name)
        ET.SubElement(aliases, "alias", {"field": column.name, "index": str(index), "name": title})
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


def ensure_layer_styles(conn: sqlite3.Connection) -> None:
    """QGIS's layer_styles table with a default style for every layer that has none."""
    conn.execute(_LAYER_STYLES_DDL)
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
        "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', "
        "strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
    )
    for name, spec in LAYERS.items():
        column = GEOMETRY if spec.geometry_type else ""
        has_default = conn.execute(
            "SELECT 1 FROM layer_styles WHERE f_table_name = ? AND useAsDefault", [name]
        ).fetchone()
        if has_default:
            continue
        conn.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
            "styleQML, styleSLD, useAsDefault, description, owner, ui) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '')",
            [name, column, STYLE_NAME, style_qml(name), f"{LAYER_TITLES[name]}: gridmap's default style"],
        )


__all__ = [
    "STYLED_LAYERS",
    "declare_geometry_types",
    "declared_type_for",
    "ensure_data_columns",
    "ensure_layer_styles",
    "style_qml",
]
