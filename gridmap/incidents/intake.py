"""Checking a new report before anything is stored: required fields, sizes, text, media URL.

Why a separate step: every channel (Open311 form/JSON/XML, the portal form, file import) must
reject the same bad input with the same message, and reject it *before* the store is touched, so
a bad request stores nothing. Locating the point (range, CRS, service area) needs the lookup index
and happens in the service right after this.

Text is stored as given (markup included) and escaped wherever it is shown; only control
characters other than tab/newline are refused, since they break storage (NUL) and displays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gridmap.errors import ValidationError
from gridmap.incidents.categories import Category, CategoryCatalogue, level_from_text
from gridmap.incidents.workflow import ActionRequest, action_from_text

#: Longest description, characters (a long patrol report fits; a pasted document does not).
DESCRIPTION_MAX_CHARS = 4000
ADDRESS_MAX_CHARS = 300
MEDIA_URL_MAX_CHARS = 2048
#: Short free-text fields: reporter name, department, worker id...
SHORT_TEXT_MAX_CHARS = 200
NOTE_MAX_CHARS = 2000
#: Largest uploaded photo, bytes.
MEDIA_MAX_BYTES = 5 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class ReportInput:
    """A checked report: category known, coordinates present (still in the sender's CRS)."""

    category: Category
    #: Coordinates as sent; both None when the report gives only an address (found in our gazetteer).
    x: str | None
    y: str | None
    crs: str | None
    description: str | None
    address: str | None
    media_url: str | None
    #: first_name + last_name as sent: checked like any text, kept for the caller, never stored (R-32:
    #: the record keeps only who reported through which account or token).
    reporter_name: str | None = None


def clean_text(value: Any, *, name: str, max_chars: int, required: bool = False) -> str | None:
    """Trimmed text or None; 400 when too long, not text, or holding control characters."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        raise ValidationError(f"{name} must be text, got {type(value).__name__}", details={"field": name})
    if not text:
        if required:
            raise ValidationError(f"{name} is required", code=f"missing_{name}", details={"field": name})
        return None
    if len(text) > max_chars:
        raise ValidationError(f"{name} has {len(text)} characters; at most {max_chars} are accepted",
                              code="too_long", details={"field": name, "limit": max_chars})
    if _CONTROL.search(text):
        raise ValidationError(f"{name} contains control characters", details={"field": name})
    return text


def media_url_from_text(value: Any) -> str | None:
    """An http(s) URL of a photo, or None; anything else (javascript:, data:, too long) is refused."""
    text = clean_text(value, name="media_url", max_chars=MEDIA_URL_MAX_CHARS)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("media_url must be an http or https URL", details={"field": "media_url"})
    return text


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _coordinate(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"{name} is required (a report is located by lat and long, or by address_string)",
                              code=f"missing_{name}",
                              details={"field": name})
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError(f"{name} must be a number", details={"field": name})
    return str(value).strip()


def report_input_from_fields(fields: Mapping[str, Any], catalogue: CategoryCatalogue) -> ReportInput:
    """Check the fields of a GeoReport v2 POST (service_code, lat, long, description, ...)."""
    code = clean_text(fields.get("service_code"), name="service_code", max_chars=SHORT_TEXT_MAX_CHARS,
                      required=True)
    category = catalogue.get(code)
    address = clean_text(fields.get("address_string"), name="address_string", max_chars=ADDRESS_MAX_CHARS)
    located = any(_given(fields.get(k)) for k in ("lat", "long"))
    lat: str | None = None
    lon: str | None = None
    if located or address is None:  # GeoReport v2: lat and long, or else an address_string
        lat, lon = _coordinate(fields, "lat"), _coordinate(fields, "long")
    crs = clean_text(fields.get("crs"), name="crs", max_chars=32)
    name = " ".join(p for p in (clean_text(fields.get("first_name"), name="first_name", max_chars=SHORT_TEXT_MAX_CHARS),
                                clean_text(fields.get("last_name"), name="last_name", max_chars=SHORT_TEXT_MAX_CHARS))
                    if p)
    return ReportInput(
        category=category,
        x=lon,
        y=lat,
        crs=crs,
        description=clean_text(fields.get("description"), name="description", max_chars=DESCRIPTION_MAX_CHARS),
        address=address,
        media_url=media_url_from_text(fields.get("media_url")),
        reporter_name=name or None,
    )


_MEDIA_SIGNATURES = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png", b"RIFF": "webp"}


def media_kind(data: bytes) -> str:
    """'jpg', 'png' or 'webp' from the file's first bytes; 400 for anything else or too large."""
    if len(data) > MEDIA_MAX_BYTES:
        raise ValidationError(f"the photo has {len(data):,} bytes; at most {MEDIA_MAX_BYTES:,} are accepted",
                              code="too_large", details={"field": "media", "limit": MEDIA_MAX_BYTES})
    for magic, kind in _MEDIA_SIGNATURES.items():
        if data.startswith(magic) and (kind != "webp" or data[8:12] == b"WEBP"):
            return kind
    raise ValidationError("media must be a JPEG, PNG or WebP photo", details={"field": "media"})


def _whole_number(value: Any, *, name: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a whole number", details={"field": name})
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValidationError(f"{name} must be a whole number, got {value!r}", details={"field": name}) from None
    return number


def action_request_from_fields(fields: Mapping[str, Any]) -> ActionRequest:
    """An ActionRequest from API JSON or a portal form; every field checked like a report's."""
    level = clean_text(fields.get("to_level"), name="to_level", max_chars=16)
    return ActionRequest(
        action=action_from_text(clean_text(fields.get("action"), name="action", max_chars=32, required=True)),
        note=clean_text(fields.get("note"), name="note", max_chars=NOTE_MAX_CHARS),
        assigned_to=clean_text(fields.get("assigned_to"), name="assigned_to", max_chars=SHORT_TEXT_MAX_CHARS),
        department=clean_text(fields.get("department"), name="department", max_chars=SHORT_TEXT_MAX_CHARS),
        satisfaction=_whole_number(fields.get("satisfaction"), name="satisfaction"),
        duplicate_of=clean_text(fields.get("duplicate_of"), name="duplicate_of", max_chars=SHORT_TEXT_MAX_CHARS),
        to_level=level_from_text(level) if level else None,
        expected_version=_whole_number(fields.get("version"), name="version"),
        token=clean_text(fields.get("token"), name="token", max_chars=64),
    )
