"""OGC API - Features, Part 1 (core, GeoJSON) and Part 2 (CRS by reference), without Flask.

Why written here and not with pygeoapi: pygeoapi is a whole server (its own config file, its own
provider plugins, its own auth-less view of the data), and gridmap's collections are views with
area scoping per caller, resolved from the same Principal as every other API. The protocol part
is small: a landing page, conformance, collections, items with ``bbox``/``limit``/``offset``
paging and ``crs``/``bbox-crs``, and one item by id. The portal's blueprint only turns requests
into :class:`ItemsQuery` and these dicts into responses.

CRS (Part 2): CRS84 (lon/lat, the default), EPSG:4326 and EPSG:4490 (CGCS2000). The EPSG
geographic CRSs have latitude first, so coordinates and ``bbox`` in them are (lat, lon); storage
is 4326/4490 at metre-level equality, so a request in either is answered without a datum shift.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.auth.principal import Principal
from gridmap.errors import NotFoundError, ValidationError
from gridmap.services.ogc_collections import Collection, collection, require_readable, rows_for, visible_collections
from gridmap.store.base import Store

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
#: Supported CRS URIs and whether their first axis is latitude.
CRS_LAT_FIRST: dict[str, bool] = {CRS84: False, f"{EPSG}4326": True, f"{EPSG}4490": True}
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
GEOJSON, JSON = "application/geo+json", "application/json"


@dataclass(frozen=True)
class ItemsQuery:
    """A parsed ``/items`` request: everything validated, bbox already in lon/lat."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    crs: str = CRS84
    #: The query parameters as given (for the next/prev links).
    raw: tuple[tuple[str, str], ...] = ()


def _int(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(f"{name}={text!r} is not an integer", code="bad_parameter") from None
    if not low <= value <= high:
        raise ValidationError(f"{name}={value} is outside {low}..{high}", code="bad_parameter")
    return value


def crs_uri(text: str | None, *, name: str) -> str:
    """A supported CRS URI from ``text`` (URI, ``[EPSG:4490]`` CURIE or ``EPSG:4490``); 400 otherwise."""
    if text is None or text == "":
        return CRS84
    cleaned = text.strip().strip("[]")
    if cleaned.upper().startswith("EPSG:"):
        cleaned = EPSG + cleaned.split(":", 1)[1]
    if cleaned.upper() in ("OGC:CRS84", "CRS84"):
        cleaned = CRS84
    if cleaned not in CRS_LAT_FIRST:
        raise ValidationError(f"{name}={text!r} is not supported; use one of {', '.join(CRS_LAT_FIRST)}",
                              code="bad_crs")  # fmt: skip
    return cleaned


def parse_bbox(text: str | None, bbox_crs: str) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` in ``bbox_crs`` axis order, returned as lon/lat; 400 when it is not that."""
    if text is None or text == "":
        return None
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValidationError(f"bbox={text!r} must be four numbers: minx,miny,maxx,maxy", code="bad_bbox")
    if CRS_LAT_FIRST[bbox_crs]:
        values = [values[1], values[0], values[3], values[2]]
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90) or y0 > y1:
        raise ValidationError(f"bbox={text!r} is not a lon/lat box in {bbox_crs}", code="bad_bbox")
    if x0 > x1:
        raise ValidationError(f"bbox={text!r}: boxes across the antimeridian are not supported", code="bad_bbox")
    return x0, y0, x1, y1


def items_query(args: Mapping[str, str]) -> ItemsQuery:
    """Validate the query parameters of ``/items``; unknown parameters are refused (Part 1, 7.15.1)."""
    known = {"limit", "offset", "bbox", "bbox-crs", "crs", "f"}
    unknown = sorted(set(args) - known)
    if unknown:
        raise ValidationError(f"unknown query parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                              code="bad_parameter")  # fmt: skip
    if args.get("f") not in (None, "", "json", "geojson"):
        raise ValidationError(f"f={args['f']!r}: only GeoJSON (f=json) is offered", code="bad_parameter")
    return ItemsQuery(
        limit=_int("limit", args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_int("offset", args.get("offset"), 0, 0, 10**9),
        bbox=parse_bbox(args.get("bbox"), crs_uri(args.get("bbox-crs"), name="bbox-crs")),
        crs=crs_uri(args.get("crs"), name="crs"),
        raw=tuple(sorted((k, v) for k, v in args.items() if k not in ("limit", "offset"))),
    )


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _geometry(geom: Any, lat_first: bool) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    if lat_first:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    return dict(json.loads(shapely.to_geojson(geom)))


def features(found: Collection, frame: gpd.GeoDataFrame, crs: str) -> list[dict[str, Any]]:
    """GeoJSON features of ``frame`` with the collection's properties, coordinates in ``crs`` axis order."""
    props = [c for c in found.properties if c in frame.columns]
    lat_first = CRS_LAT_FIRST[crs]
    out = []
    for record, geom in zip(frame[props].to_dict("records"), frame.geometry, strict=True):
        out.append({"type": "Feature", "id": _jsonable(record[found.id_column]),
                    "geometry": _geometry(geom, lat_first), "properties": {k: _jsonable(v) for k, v in record.items()}})
    return out  # fmt: skip


def landing_page(base: str) -> dict[str, Any]:
    return {
        "title": "gridmap OGC API - Features",
        "description": "Boundaries (district, street, community, grid), service centres and, with a key, "
                       "buildings and incidents of this gridmap installation.",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": JSON, "title": "this document"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": JSON, "title": "conformance classes"},
            {"href": f"{base}/collections", "rel": "data", "type": JSON, "title": "collections"},
        ],
    }  # fmt: skip


def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


def collection_document(store: Store, found: Collection, base: str) -> dict[str, Any]:
    """One collection's metadata (extent from the stored layer, all supported CRSs)."""
    frame = found.read(store, None)
    bounds = [float(v) for v in frame.total_bounds] if len(frame) else [-180.0, -90.0, 180.0, 90.0]
    href = f"{base}/collections/{found.id}"
    return {
        "id": found.id, "title": found.title, "description": found.description, "itemType": "feature",
        "extent": {"spatial": {"bbox": [bounds], "crs": CRS84}},
        "crs": list(CRS_LAT_FIRST), "storageCrs": CRS84,
        "links": [
            {"href": href, "rel": "self", "type": JSON, "title": found.title},
            {"href": f"{href}/items", "rel": "items", "type": GEOJSON, "title": f"{found.title} (GeoJSON)"},
        ],
    }  # fmt: skip


def collections_document(store: Store, principal: Principal, base: str) -> dict[str, Any]:
    docs = [collection_document(store, c, base) for c in visible_collections(principal)]
    return {"links": [{"href": f"{base}/collections", "rel": "self", "type": JSON}], "collections": docs}


def _link(base: str, found: Collection, query: ItemsQuery, offset: int, rel: str) -> dict[str, Any]:
    params = "&".join(f"{k}={v}" for k, v in (*query.raw, ("limit", str(query.limit)), ("offset", str(offset))))
    return {"href": f"{base}/collections/{found.id}/items?{params}", "rel": rel, "type": GEOJSON}


def items_page(
    store: Store, principal: Principal, collection_id: str, query: ItemsQuery, base: str
) -> dict[str, Any]:
    """One page of a collection's features visible to ``principal``, with numberMatched and links."""
    found = collection(collection_id)
    rows = rows_for(principal, found, found.read(store, query.bbox))
    if query.bbox is not None and len(rows):
        rows = rows[rows.intersects(shapely.box(*query.bbox))]
    rows = rows.sort_values(found.id_column, kind="stable")
    page = rows.iloc[query.offset : query.offset + query.limit]
    links = [_link(base, found, query, query.offset, "self")]
    if query.offset + query.limit < len(rows):
        links.append(_link(base, found, query, query.offset + query.limit, "next"))
    if query.offset > 0:
        links.append(_link(base, found, query, max(0, query.offset - query.limit), "prev"))
    return {
        "type": "FeatureCollection", "features": features(found, page, query.crs),
        "numberMatched": len(rows), "numberReturned": len(page),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"), "links": links,
    }  # fmt: skip


def item(store: Store, principal: Principal, collection_id: str, feature_id: str, crs: str) -> dict[str, Any]:
    """One feature by id; 404 both when it does not exist and when it lies outside the caller's area."""
    found = collection(collection_id)
    rows = rows_for(principal, found, found.read(store, None))
    hit = rows[rows[found.id_column].astype("string") == feature_id]
    if hit.empty:
        raise NotFoundError(f"collection {collection_id!r} has no feature {feature_id!r}", code="not_found")
    return features(found, hit.iloc[:1], crs)[0]


__all__ = [
    "CRS84",
    "ItemsQuery",
    "collection",
    "collection_document",
    "collections_document",
    "conformance",
    "crs_uri",
    "item",
    "items_page",
    "items_query",
    "landing_page",
    "require_readable",
]  # fmt: skip
