"""Open311 GeoReport v2 shapes: services, service requests, updates, errors; JSON and XML.

Why own code and not a library: the shapes are small, and GeoReport v2 requires XML (JSON is
optional), so both formats are built here from the same dicts. XML is written with ElementTree
(which escapes text) and parsed with defusedxml (no entity expansion, no external entities), so a
hostile body cannot blow up memory or read files.

Datetimes are ISO 8601 with their offset, in China Standard Time (+08:00), as residents read them;
input dates without an offset are taken as +08:00 too.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # writing only: parsing goes through defusedxml
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from gridmap.errors import ValidationError
from gridmap.incidents.categories import Category, CategoryCatalogue, level_from_text
from gridmap.incidents.workflow import EXTENDED_STATUS, Status, status_from_text

LOCAL_TZ = "Asia/Shanghai"
API_VERSION = "v2"
#: Element names for the items of list-valued fields in XML.
_ITEM_NAMES = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
               "values": "value", "duplicates": "duplicate", "service_request_updates": "request_update",
               "endpoints": "endpoint", "formats": "format"}


def iso(value: Any) -> str | None:
    """ISO 8601 with offset in +08:00, or None for missing values."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert(LOCAL_TZ).isoformat(timespec="seconds")


def datetime_from_text(text: str, *, name: str) -> datetime:
    """A timezone-aware datetime from an ISO 8601 parameter; no offset means +08:00 (China time)."""
    try:
        stamp = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        raise ValidationError(f"{name} {text!r} is not an ISO 8601 date-time such as 2025-01-31T08:00:00+08:00",
                              details={"parameter": name}) from None
    if pd.isna(stamp):
        raise ValidationError(f"{name} is empty", details={"parameter": name})
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(LOCAL_TZ)
    return stamp.tz_convert("UTC").to_pydatetime()


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


# -- services ------------------------------------------------------------------------------------


def service_dict(category: Category, lang: str) -> dict[str, Any]:
    return {
        "service_code": category.service_code,
        "service_name": category.name(lang),
        "description": category.description(lang),
        "metadata": False,  # no extra attributes: a report needs only the standard fields
        "type": "realtime",
        "keywords": ",".join(category.keywords),
        "group": category.group(lang),
    }


def service_definition(category: Category) -> dict[str, Any]:
    return {"service_code": category.service_code, "attributes": []}


def discovery_dict(base_url: str, *, changeset: str) -> dict[str, Any]:
    """The discovery document (GeoReport v2 §discovery) of this one endpoint."""
    return {
        "changeset": changeset,
        "contact": "网格化服务管理中心 (gridmap)",
        "key_service": "API keys are issued by the administrator: gridmap tokens create --role ROLE --area CODE",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": base_url.rstrip("/") + "/open311/v2",
            "changeset": changeset,
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
    }


# -- requests ------------------------------------------------------------------------------------


def request_dict(row: Mapping[Any, Any], catalogue: CategoryCatalogue, lang: str) -> dict[str, Any]:
    """One service request as GeoReport v2 shows it (the reporter and the token are never shown)."""
    category = catalogue.find(row.get("category"))
    status = status_from_text(row["status"])
    geometry = row.get("geometry")
    lon = lat = None
    if geometry is not None and not getattr(geometry, "is_empty", True):
        lon, lat = float(geometry.x), float(geometry.y)
    department = _text(row.get("department"))
    level = _text(row.get("level"))
    agency = department or (f"{_level_label(level)}" if level else None)
    return {
        "service_request_id": str(row["incident_id"]),
        "status": status.open311,
        "status_notes": _text(row.get("status_notes")),
        "service_name": category.name(lang) if category else _text(row.get("category")),
        "service_code": category.service_code if category else _text(row.get("category")),
        "description": _text(row.get("description")),
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": iso(row.get("reported_at")),
        "updated_datetime": iso(row.get("updated_at")),
        "expected_datetime": iso(row.get("deadline_at")) if status.open311 == "open" else None,
        "address": _text(row.get("address")),
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": _text(row.get("media_url")),
        "extended_attributes": {
            "status": EXTENDED_STATUS[status],
            "step": status.value,
            "level": level,
            "grid_code": _text(row.get("grid_code")),
            "community_code": _text(row.get("community_code")),
            "street_code": _text(row.get("street_code")),
            "urgent": bool(row.get("urgent")) if not pd.isna(row.get("urgent")) else False,
            "supervised": bool(row.get("supervised")) if not pd.isna(row.get("supervised")) else False,
            "card": _text(row.get("card")),
            "satisfaction": None if pd.isna(row.get("satisfaction")) else int(row["satisfaction"]),
            "duplicate_of": _text(row.get("duplicate_of")),
        },
    }


def _level_label(level: str) -> str:
    return level_from_text(level).label_zh


def update_dict(event: Mapping[Any, Any]) -> dict[str, Any]:
    """One FixMyStreet-style service request update from an INCIDENT_EVENTS row."""
    to_status = status_from_text(event["to_status"])
    return {
        "update_id": f"{event['incident_id']}-{int(event['seq'])}",
        "service_request_id": str(event["incident_id"]),
        "status": EXTENDED_STATUS[to_status],
        "open311_status": to_status.open311,
        "step": to_status.value,
        "action": str(event["action"]),
        "updated_datetime": iso(event["at"]),
        "description": _text(event.get("note")),
        "media_url": None,
    }


def open311_statuses(text: str) -> list[Status]:
    """Internal statuses for an Open311 ``status`` filter (open, closed, or a comma list of either)."""
    wanted = {part.strip().lower() for part in str(text).split(",") if part.strip()}
    unknown = wanted - {"open", "closed"}
    if unknown:
        raise ValidationError(f"status {text!r}: use open or closed", details={"parameter": "status"})
    return [s for s in Status if s.open311 in wanted]


# -- output --------------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _xml_value(node, str(key), inner)
    elif isinstance(value, list | tuple):
        item = _ITEM_NAMES.get(name, "item")
        for inner in value:
            _xml_value(node, item, inner)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)


def xml_document(root: str, items: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> bytes:
    """``<root><item>...</item>...</root>`` (item name from the root) or one mapping as the root's children."""
    element = ET.Element(root)
    if isinstance(items, Mapping):
        for key, value in items.items():
            _xml_value(element, str(key), value)
    else:
        name = _ITEM_NAMES.get(root, "item")
        for item in items:
            _xml_value(element, name, item)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def errors_body(errors: list[dict[str, Any]], fmt: str) -> tuple[bytes, str]:
    """The GeoReport error list ``[{code, description}]`` in ``fmt`` (json or xml): (body, mimetype)."""
    if fmt == "xml":
        return xml_document("errors", errors), "text/xml"
    return json.dumps(errors, ensure_ascii=False).encode("utf-8"), "application/json"


# -- input ---------------------------------------------------------------------------------------


def fields_from_json(body: bytes) -> dict[str, Any]:
    """POST fields from a JSON object body; malformed JSON is a 400 that says so."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"the JSON body cannot be parsed: {exc}", code="malformed_body") from None
    if not isinstance(data, dict):
        raise ValidationError("the JSON body must be an object of request fields", code="malformed_body")
    return {str(k): v for k, v in data.items()}


def fields_from_xml(body: bytes) -> dict[str, Any]:
    """POST fields from ``<request><service_code>...</service_code>...</request>`` (flat)."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ValidationError(f"the XML body cannot be parsed: {exc}", code="malformed_body") from None
    fields: dict[str, Any] = {}
    for child in root:
        if len(child):
            raise ValidationError(f"the XML body: element <{child.tag}> must hold text, not elements",
                                  code="malformed_body")
        fields[str(child.tag)] = child.text or ""
    return fields
