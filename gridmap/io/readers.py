"""Read vector files (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, CSV) into plain frames.

Why not simply ``geopandas.read_file``: a single unclosed ring or self-intersecting ring makes
the whole read fail (shapely refuses to build the geometry), which would hide every other
problem in the file. Here geometries come in as WKB through ``pyogrio.raw.read`` and are decoded
one by one; a geometry that cannot be decoded is kept as ``None`` and recorded in
:attr:`SourceData.geometry_issues` together with the repaired version (shapely's
``on_invalid="fix"`` closes open rings), so validation can name every bad feature and ``--fix``
can repair it.

Frames come out *without* a CRS: the CRS the file declares is kept as text in
:attr:`SourceData.crs` and decided on by the importer (``--crs`` may override it, e.g. for GCJ-02
data whose files claim WGS84).
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import ValidationError

#: Column names recognised as longitude / latitude / WKT in CSV files (compared case-insensitively).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")

_SUFFIX_KINDS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shapefile",
    ".zip": "zip",
    ".csv": "csv",
    ".pbf": "osm",
}
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
)


@dataclass(frozen=True)
class GeometryIssue:
    """A geometry that could not be decoded as stored; ``repaired`` is the best fix (or None)."""

    reason: str
    repaired: BaseGeometry | None


@dataclass
class SourceData:
    """What a file holds, before any interpretation: attribute columns and raw geometries."""

    path: Path
    kind: str
    #: Attribute columns in file order; rows in file order (row i = feature i+1 in messages).
    frame: pd.DataFrame
    #: One shapely geometry (or None) per row; None when the file has no geometry at all.
    geometries: np.ndarray | None
    #: The CRS the file declares (``EPSG:n`` or WKT), or None when it declares none.
    crs: str | None
    file_layer: str | None = None
    geometry_issues: dict[int, GeometryIssue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def has_geometry(self) -> bool:
        return self.geometries is not None

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def kind_from_path(path: Path) -> str:
    """The reader for a path from its suffix: geojson, gpkg, shapefile, zip, csv or osm."""
    name = path.name.lower()
    if name.endswith(".osm.pbf"):
        return "osm"
    try:
        return _SUFFIX_KINDS[path.suffix.lower()]
    except KeyError:
        raise ValidationError(
            f"{path}: unknown file type {path.suffix!r}; gridmap reads .geojson/.json, .gpkg, .shp, "
            ".zip (containing a shapefile), .csv and .osm.pbf",
            code="unknown_file_type",
        ) from None


def read_source(
    path: str | Path,
    *,
    file_layer: str | None = None,
    prefer_layers: Sequence[str] = (),
    column_map: Mapping[str, str] | None = None,
) -> SourceData:
    """Read any supported vector or CSV file (not .osm.pbf, see :mod:`gridmap.io.osm`).

    ``file_layer`` picks a layer of a multi-layer file (GeoPackage, zip with several shapefiles);
    without it a single-layer file is read as is, a file with a layer named like one of
    ``prefer_layers`` reads that one, and anything else is an error listing the layers.
    ``column_map`` may name the CSV geometry columns (keys ``lon``, ``lat``, ``wkt``).
    """
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"{p}: file does not exist", code="file_not_found")
    kind = kind_from_path(p)
    if kind == "osm":
        raise ValidationError(f"{p}: .osm.pbf files are read with gridmap.io.osm, not read_source")
    if kind == "csv":
        return read_csv_source(p, column_map=column_map or {})
    if kind == "shapefile":
        _check_shapefile_complete(p)
    dataset = _dataset_path(p) if kind == "zip" else str(p)
    layer = _choose_layer(p, dataset, file_layer, prefer_layers)
    return _read_vector(p, kind, dataset, layer)


def _dataset_path(path: Path) -> str:
    """The GDAL /vsizip/ path of the data inside a zip (shapefile, GeoPackage or GeoJSON)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            for member in names:
                if member.lower().endswith(".shp"):
                    _check_zipped_shapefile(path, zf, member)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(f"{path}: not a readable zip file ({exc})", code="unreadable_file") from None
    data = [n for n in names if Path(n).suffix.lower() in {".shp", ".gpkg", ".geojson", ".json"}]
    if not data:
        raise ValidationError(
            f"{path}: the zip holds no .shp, .gpkg or .geojson file (it has: {', '.join(names) or 'nothing'})",
            code="unreadable_file",
        )
    folders = {str(Path(n).parent) for n in data}
    if len(data) == 1:
        return f"/vsizip/{path.resolve()}/{data[0]}"
    if len(folders) == 1 and all(n.lower().endswith(".shp") for n in data):
        folder = folders.pop()
        return f"/vsizip/{path.resolve()}" + ("" if folder == "." else f"/{folder}")
    raise ValidationError(
        f"{path}: the zip holds several data files ({', '.join(data)}); zip one of them", code="ambiguous_layer"
    )


def _shp_declared_length(header: bytes) -> int | None:
    """File length in bytes from a .shp header (big-endian 16-bit words at byte 24), None if no header."""
    if len(header) < 28:
        return None
    (words,) = struct.unpack(">i", header[24:28])
    return int(words) * 2


def _truncation_error(path: Path, member: str, declared: int | None, actual: int) -> ValidationError:
    what = f"{path}" + (f" (member {member})" if member else "")
    if declared is None:
        detail = f"it has {actual} bytes, fewer than the 100-byte header"
    else:
        detail = f"its header says {declared} bytes but it has {actual}"
    return ValidationError(
        f"{what}: the shapefile is truncated: {detail}; copy the complete .shp again", code="unreadable_file"
    )


def _check_shapefile_complete(path: Path) -> None:
    """A cut-off .shp makes GDAL return empty geometries silently; catch it from the header."""
    with path.open("rb") as fh:
        header = fh.read(100)
    declared = _shp_declared_length(header)
    actual = path.stat().st_size
    if declared is None or declared > actual:
        raise _truncation_error(path, "", declared, actual)


def _check_zipped_shapefile(path: Path, zf: zipfile.ZipFile, member: str) -> None:
    with zf.open(member) as fh:
        header = fh.read(100)
    declared = _shp_declared_length(header)
    actual = zf.getinfo(member).file_size
    if declared is None or declared > actual:
        raise _truncation_error(path, member, declared, actual)


def _choose_layer(path: Path, dataset: str, file_layer: str | None, prefer: Sequence[str]) -> str | None:
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(dataset)]
    except _PYOGRIO_ERRORS as exc:
        raise _unreadable(path, exc) from None
    if file_layer is not None:
        if file_layer not in layers:
            raise ValidationError(
                f"{path}: has no layer {file_layer!r}; its layers are: {', '.join(layers)}", code="unknown_layer"
            )
        return file_layer
    if len(layers) <= 1:
        return layers[0] if layers else None
    preferred = [name for name in layers if name.lower() in {p.lower() for p in prefer}]
    if len(preferred) == 1:
        return preferred[0]
    raise ValidationError(
        f"{path}: the file has {len(layers)} layers ({', '.join(layers)}); choose one with --file-layer NAME",
        code="ambiguous_layer",
        details={"file": str(path), "layers": layers},
    )


def _unreadable(path: Path, exc: BaseException) -> ValidationError:
    return ValidationError(
        f"{path}: cannot read the file: {exc}. Is it complete (not truncated) and of the type its name says?",
        code="unreadable_file",
        details={"file": str(path), "error": str(exc)},
    )


def _read_vector(path: Path, kind: str, dataset: str, layer: str | None) -> SourceData:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta, _fids, wkb, values = pyogrio.raw.read(dataset, layer=layer)
        except _PYOGRIO_ERRORS as exc:
            raise _unreadable(path, exc) from None
    names = [str(n) for n in meta["fields"]]
    frame = pd.DataFrame(
        {name: pd.Series(np.asarray(col, dtype=object), dtype=object) for name, col in zip(names, values, strict=True)}
    )
    messages = [f"{path}: {w.message}" for w in caught]
    if kind in {"shapefile", "zip"} and str(meta.get("encoding", "")).upper() in {"ISO-8859-1", "LATIN1"}:
        frame, fixed = _redecode_latin1(frame, path)
        if fixed:
            messages.append(f"{path}: no .cpg file; text decoded as {fixed} (write a .cpg to be explicit)")
    geometries, issues = (None, {}) if wkb is None else geometries_from_wkb(wkb)
    crs = meta.get("crs")
    return SourceData(path, kind, frame, geometries, str(crs) if crs else None, layer, issues, messages)


def _redecode_latin1(frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, str | None]:
    """Shapefiles without .cpg are read as Latin-1; Chinese ones are really UTF-8 or GBK/GB18030.
    Undo it; text that is neither is an error naming the column and feature (guessing would store
    mojibake)."""
    used: str | None = None

    def fix(text: Any, where: str) -> Any:
        nonlocal used
        if not isinstance(text, str) or text.isascii():
            return text
        raw = text.encode("latin-1", errors="replace")
        for enc in ("utf-8", "gb18030"):
            try:
                out = raw.decode(enc)
            except UnicodeDecodeError:
                continue
            used = used or enc
            return out
        raise ValidationError(
            f"{path}: the .dbf has no .cpg and the text of {where} is neither UTF-8 nor GBK/GB18030"
            f" (bytes {raw[:16].hex(' ')}); add a .cpg naming its encoding (e.g. a file containing 'CP936')"
            " or save the layer as UTF-8. Nothing was imported.",
            code="unknown_encoding",
        )

    renamed = {c: fix(c, f"the column name {c!r}") for c in frame.columns}
    out = frame.rename(columns=renamed)
    for col in out.columns:
        out[col] = pd.Series([fix(v, f"column {col!r}, feature {i + 1}") for i, v in enumerate(out[col])],
                             index=out.index, dtype=object)  # fmt: skip
    return out, used


def geometries_from_wkb(wkb: np.ndarray) -> tuple[np.ndarray, dict[int, GeometryIssue]]:
    """Decode WKB one array at a time; undecodable items become None plus a :class:`GeometryIssue`."""
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    bad = np.flatnonzero(pd.isna(geoms) & ~pd.isna(wkb))
    issues: dict[int, GeometryIssue] = {}
    for i in bad:
        try:
            shapely.from_wkb(wkb[i])
            reason = "geometry cannot be decoded"
        except shapely.errors.GEOSException as exc:
            reason = _plain_geos_reason(str(exc))
        repaired = shapely.from_wkb(wkb[i], on_invalid="fix")
        issues[int(i)] = GeometryIssue(reason, repaired if repaired is not None and not repaired.is_empty else None)
    return np.asarray(geoms, dtype=object), issues


def _plain_geos_reason(text: str) -> str:
    if "closed linestring" in text:
        return "ring is not closed (its last point differs from its first)"
    if "must have" in text and "points" in text:
        return "ring or line has too few points"
    return text.split(": ", 1)[-1]


def _read_text(path: Path) -> tuple[str, str]:
    """CSV text: UTF-8 (with or without BOM) or, as Excel writes on Chinese Windows, GB18030."""
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise ValidationError(f"{path}: text is neither UTF-8 nor GB18030 (GBK)", code="unreadable_file")


def find_column(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    """The first of ``columns`` whose name matches one of ``candidates`` (case-insensitive)."""
    lowered = {c.lower().strip(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lowered:
            return lowered[cand.lower()]
    return None


def read_csv_source(path: Path, *, column_map: Mapping[str, str]) -> SourceData:
    """A CSV with lon/lat columns (points), a WKT column, or no geometry (attribute tables).

    Every value is read as text so codes keep their digits (``410611001`` never becomes a float);
    the importer converts types per schema column.
    """
    text, encoding = _read_text(path)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _unreadable(path, exc) from None
    frame = frame.astype(object)
    cols = [str(c) for c in frame.columns]
    lon = column_map.get("lon") or find_column(cols, LON_NAMES)
    lat = column_map.get("lat") or find_column(cols, LAT_NAMES)
    wkt = column_map.get("wkt") or find_column(cols, WKT_NAMES)
    for key, col in (("lon", lon), ("lat", lat), ("wkt", wkt)):
        if col is not None and col not in cols:
            raise ValidationError(
                f"{path}: --map {key}={col} names no column; the file has: {', '.join(cols)}", code="missing_columns"
            )
    notes = [f"{path}: read as {encoding}"] if encoding != "utf-8-sig" else []
    if lon is not None and lat is not None:
        geoms, issues = _points_from_columns(frame[lon], frame[lat], lon, lat)
        frame = frame.drop(columns=[lon, lat])
    elif wkt is not None:
        geoms, issues = _geometries_from_wkt(frame[wkt], wkt)
        frame = frame.drop(columns=[wkt])
    else:
        return SourceData(path, "csv", frame, None, None, None, {}, notes)
    return SourceData(path, "csv", frame, geoms, None, None, issues, notes)


def _points_from_columns(
    lon: pd.Series, lat: pd.Series, lon_name: str, lat_name: str
) -> tuple[np.ndarray, dict[int, GeometryIssue]]:
    x = pd.to_numeric(lon.replace("", None), errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(lat.replace("", None), errors="coerce").to_numpy(dtype=float)
    geoms = np.asarray(shapely.points(x, y), dtype=object)
    issues: dict[int, GeometryIssue] = {}
    for i in np.flatnonzero(np.isnan(x) | np.isnan(y)):
        geoms[i] = None
        given = f"{lon_name}={lon.iloc[i]!r}, {lat_name}={lat.iloc[i]!r}"
        if str(lon.iloc[i]).strip() or str(lat.iloc[i]).strip():
            issues[int(i)] = GeometryIssue(f"coordinates are not numbers ({given})", None)
    return geoms, issues


def _geometries_from_wkt(column: pd.Series, name: str) -> tuple[np.ndarray, dict[int, GeometryIssue]]:
    texts = column.replace("", None).to_numpy(dtype=object)
    geoms = np.asarray(shapely.from_wkt(texts, on_invalid="ignore"), dtype=object)
    issues: dict[int, GeometryIssue] = {}
    for i in np.flatnonzero(pd.isna(geoms) & ~pd.isna(texts)):
        try:
            shapely.from_wkt(texts[i])
            reason = f"column {name}: WKT cannot be parsed"
        except shapely.errors.GEOSException as exc:
            reason = f"column {name}: {_plain_geos_reason(str(exc))}"
        fixed = shapely.from_wkt(texts[i], on_invalid="fix")
        issues[int(i)] = GeometryIssue(reason, fixed if fixed is not None and not fixed.is_empty else None)
    return geoms, issues
