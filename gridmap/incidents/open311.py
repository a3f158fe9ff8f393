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
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from gridmap.errors import ValidationError
from gridmap.incidents.categories import LADDER, Category, CategoryCatalogue
from gridmap.incidents.workflow import EXTENDED_STATUS, Status, status_from_text

LOCAL_TZ = "Asia/Shanghai"
_LOCAL = ZoneInfo(LOCAL_TZ)
API_VERSION = "v2"
#: Element names for the items of list-valued fields in XML.
_ITEM_NAMES = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
               "values": "value", "duplicates": "duplicate", "service_request_updates": "request_update",
               "endpoints": "endpoint", "formats": "format"}


def iso(value: Any) -> str | None:
    """ISO 8601 with offset in +08:00, or None for missing values (naive values are taken as UTC)."""
    if value is None or (not isinstance(value, str | datetime) and pd.isna(value)):
        return None
    if isinstance(value, datetime) and not isinstance(value, pd.Timestamp):
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return stamp.astimezone(_LOCAL).isoformat(timespec="seconds")
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert(LOCAL_TZ).isoformat(timespec="seconds")


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


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (values from frames and from plain records alike)."""
    return value is None or (not isinstance(value, str | int | bool) and bool(pd.isna(value)))


def _text(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def _flag(value: Any) -> bool:
    return False if _missing(value) else bool(value)


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


#: Per stored status: (GeoReport status, FixMyStreet-style status); dict lookups keep listings fast.
_STATUS_SHAPES: Mapping[str, tuple[str, str]] = {s.value: (s.open311, EXTENDED_STATUS[s]) for s in Status}
_LEVEL_LABELS: Mapping[str, str] = {lv.value: lv.label_zh for lv in LADDER}
_TEXT_FIELDS = ("status_notes", "description", "address", "media_url", "grid_code", "community_code",
                "street_code", "card", "duplicate_of", "department", "level")


def agency_label(department: Any, level: Any) -> str | None:
    """``agency_responsible``: the department handling the case, else its level's Chinese label."""
    if isinstance(department, str) and department:
        return department
    if isinstance(level, str) and level:
        return _LEVEL_LABELS.get(level, level)
    return None


def open_or_closed(status: Any) -> str:
    """GeoReport v2's two-valued status of a stored workflow status (ValidationError if unknown)."""
    text = str(status)
    if text not in _STATUS_SHAPES:
        status_from_text(text)  # raises the ValidationError naming the allowed values
    return _STATUS_SHAPES[text][0]


def _local_iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(_LOCAL).isoformat(timespec="seconds")


def request_dicts(records: Sequence[Mapping[str, Any]], catalogue: CategoryCatalogue, lang: str
                  ) -> list[dict[str, Any]]:
    """:func:`request_dict` for many SQL records (plain values, None for missing, aware datetimes,
    ``lon``/``lat``): the same shapes, built with a fraction of the calls (a listing has 1000)."""
    names: dict[Any, tuple[Any, Any]] = {}
    out = []
    for r in records:
        code = r["category"]
        if code not in names:
            cat = catalogue.find(code)
            names[code] = (cat.service_code, cat.name(lang)) if cat else (code, code)
        service_code, service_name = names[code]
        status = r["status"]
        if status not in _STATUS_SHAPES:
            status_from_text(status)  # raises the ValidationError naming the allowed values
        open_or_closed, extended = _STATUS_SHAPES[status]
        level = r.get("level")
        out.append({
            "service_request_id": r["incident_id"], "status": open_or_closed, "status_notes": r.get("status_notes"),
            "service_name": service_name, "service_code": service_code, "description": r.get("description"),
            "agency_responsible": r.get("department") or (_LEVEL_LABELS.get(level, level) if level else None),
            "service_notice": None, "requested_datetime": _local_iso(r.get("reported_at")),
            "updated_datetime": _local_iso(r.get("updated_at")),
            "expected_datetime": _local_iso(r.get("deadline_at")) if open_or_closed == "open" else None,
            "address": r.get("address"), "address_id": None, "zipcode": None, "lat": r.get("lat"),
            "long": r.get("lon"), "media_url": r.get("media_url"),
            "extended_attributes": {
                "status": extended, "step": status, "level": level, "grid_code": r.get("grid_code"),
                "community_code": r.get("community_code"), "street_code": r.get("street_code"),
                "urgent": bool(r.get("urgent")), "supervised": bool(r.get("supervised")), "card": r.get("card"),
                "satisfaction": r.get("satisfaction"), "duplicate_of": r.get("duplicate_of"),
            },
        })
    return out


def request_dict(row: Mapping[Any, Any], catalogue: CategoryCatalogue, lang: str) -> dict[str, Any]:
    """One service request as GeoReport v2 shows it (the reporter and the token are never shown).

    ``row`` is a record (``lon``/``lat``) or a frame row (``geometry``); missing values may be None,
    NaN, NaT or pd.NA. Called 1000 times per listing, so it avoids per-field helpers.
    """
    text = {k: (None if (v := row.get(k)) is None or (not isinstance(v, str) and _missing(v)) else str(v))
            for k in _TEXT_FIELDS}
    code = row.get("category")
    category = catalogue.find(code)
    status = str(row["status"])
    if status not in _STATUS_SHAPES:
        status_from_text(status)  # raises the ValidationError naming the allowed values
    open_or_closed, extended = _STATUS_SHAPES[status]
    lon, lat = row.get("lon"), row.get("lat")
    geometry = row.get("geometry")
    if lon is None and geometry is not None and not getattr(geometry, "is_empty", True):
        lon, lat = float(geometry.x), float(geometry.y)
    level = text["level"]
    satisfaction = row.get("satisfaction")
    return {
        "service_request_id": str(row["incident_id"]),
        "status": open_or_closed,
        "status_notes": text["status_notes"],
        "service_name": category.name(lang) if category else (None if code is None else str(code)),
        "service_code": category.service_code if category else (None if code is None else str(code)),
        "description": text["description"],
        "agency_responsible": text["department"] or (_LEVEL_LABELS.get(level, level) if level else None),
        "service_notice": None,
        "requested_datetime": iso(row.get("reported_at")),
        "updated_datetime": iso(row.get("updated_at")),
        "expected_datetime": iso(row.get("deadline_at")) if open_or_closed == "open" else None,
        "address": text["address"],
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": text["media_url"],
        "extended_attributes": {
            "status": extended, "step": status, "level": level, "grid_code": text["grid_code"],
            "community_code": text["community_code"], "street_code": text["street_code"],
            "urgent": _flag(row.get("urgent")), "supervised": _flag(row.get("supervised")), "card": text["card"],
            "satisfaction": None if satisfaction is None or _missing(satisfaction) else int(satisfaction),
            "duplicate_of": text["duplicate_of"],
        },
    }


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


def _json_default(value: Any) -> Any:
    """Values orjson does not know natively (pandas missing values and timestamps, numpy scalars)."""
    if isinstance(value, pd.Timestamp):
        return iso(value)
    if hasattr(value, "item"):
        return value.item()
    if _missing(value):
        return None
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def json_body(payload: Any) -> bytes:
    """UTF-8 JSON (Chinese stays readable, not \\u-escaped); orjson, ~15x faster than the json module on a
    1000-request listing, which is most of a GET's CPU time."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY, default=_json_default)


def errors_body(errors: list[dict[str, Any]], fmt: str) -> tuple[bytes, str]:
    """The GeoReport error list ``[{code, description}]`` in ``fmt`` (json or xml): (body, mimetype)."""
    if fmt == "xml":
        return xml_document("errors", errors), "text/xml"
    return json_body(errors), "application/json"


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
