"""The Traccar / OsmAnd position protocol: one GPS fix from one HTTP request.

Why our own parser and not a Traccar server: the fixes must land in the gridmap store with the grid
at the point, under the same access rules as everything else, and a district office runs one process.
The protocol (standards.md, "Worker positions") is small:

* **OsmAnd** (Traccar's port 5055): GET query or POST form with ``id`` (or ``deviceid``), ``lat``, ``lon``,
  ``timestamp`` and optional ``speed``, ``bearing``, ``altitude``, ``accuracy``, ``batt``. As in Traccar,
  ``timestamp`` is unix seconds (milliseconds when larger than 2**31 - 1), ISO 8601, ``YYYY-MM-DD HH:MM:SS``
  (UTC) or the device format ``ddMMyyHHmmss`` (UTC); a fix without one is stamped with the server clock.
  ``speed`` is km/h (Traccar's default unit for this protocol).
* **Traccar Client JSON** (newer apps, ``Content-Type: application/json``): ``{"device_id", "location":
  {"timestamp", "coords": {"latitude", "longitude", "accuracy", "speed" (m/s), "heading", "altitude"},
  "battery": {"level" (0..1)}}}``; negative speed/heading/level mean "unknown".

Everything becomes SI units in a :class:`Fix` (metres, m/s, degrees, percent, UTC). Bad input is a
:class:`~gridmap.errors.ValidationError` (400) naming the device, the field and the rule; nothing is
stored for it. ``fix_time`` is truncated to the millisecond, the precision both stores keep, so a re-sent
fix has exactly the key (device, fix time) of the stored one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from gridmap.errors import ValidationError

PROTOCOL_OSMAND = "osmand"
PROTOCOL_JSON = "traccar_json"
KMH_TO_MPS = 1.0 / 3.6
#: Longest device identifier accepted (Traccar uniqueIds are short; this bounds what we store).
MAX_DEVICE_ID_CHARS = 64
#: Largest request body read, bytes (one fix is < 1 KiB).
MAX_BODY_BYTES = 16 * 1024
#: Unix timestamps at or above this are milliseconds (Traccar's rule: Integer.MAX_VALUE).
_MS_THRESHOLD = 2**31 - 1
#: Fixes before this are a device clock that was never set (1970, GPS week rollover), not history.
EARLIEST_FIX = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FixLimits:
    """What a fix's time may be: not after ``now + max_future_s``, not before ``oldest`` (UTC)."""

    now: datetime
    max_future_s: float = 300.0
    oldest: datetime = EARLIEST_FIX


@dataclass(frozen=True)
class Fix:
    """One GPS fix of one device, in WGS84 lon/lat degrees and SI units (None = not sent)."""

    device_id: str
    lon: float
    lat: float
    fix_time: datetime  # UTC, millisecond precision
    speed_mps: float | None = None
    bearing_deg: float | None = None
    altitude_m: float | None = None
    accuracy_m: float | None = None
    battery_pct: float | None = None
    protocol: str = PROTOCOL_OSMAND

    @property
    def key(self) -> tuple[str, datetime]:
        """(device, fix time): a fix is stored once per key."""
        return (self.device_id, self.fix_time)


def _bad(device: str | None, message: str, *, field: str) -> ValidationError:
    who = f"position from device {device!r}" if device else "position"
    return ValidationError(f"{who}: {message}; nothing was stored", code="bad_position",
                           details={"field": field, "device_id": device})


def _ms(stamp: datetime) -> datetime:
    return stamp.replace(microsecond=stamp.microsecond - stamp.microsecond % 1000)


def time_from_text(value: str) -> datetime:
    """A UTC datetime from the protocol's timestamp forms (see the module docstring); ValueError if none fits."""
    text = value.strip()
    if len(text) == 12 and text.isdigit():  # ddMMyyHHmmss, UTC
        return datetime.strptime(text, "%d%m%y%H%M%S").replace(tzinfo=UTC)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        seconds = number / 1000.0 if number >= _MS_THRESHOLD else number
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not math.isnan(number):
        raise ValueError(f"not a finite number: {text}")
    stamp = datetime.fromisoformat(text.replace("z", "Z"))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _checked_time(device: str, raw: Any, limits: FixLimits) -> datetime:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _ms(limits.now.astimezone(UTC))
    if isinstance(raw, bool):
        raise _bad(device, f"timestamp {raw!r} is not a time", field="timestamp")
    try:
        stamp = time_from_text(str(raw))
    except (ValueError, OverflowError, OSError):
        raise _bad(device, f"timestamp {str(raw)[:40]!r} is not unix seconds, milliseconds or ISO 8601",
                   field="timestamp") from None
    if stamp > limits.now + timedelta(seconds=limits.max_future_s):
        raise _bad(device, f"timestamp {stamp.isoformat()} is more than {limits.max_future_s:.0f} s after the "
                   f"server clock ({limits.now.isoformat()}); check the device clock", field="timestamp")
    if stamp < limits.oldest:
        raise _bad(device, f"timestamp {stamp.isoformat()} is before {limits.oldest.isoformat()} (device clock not "
                   "set, or older than the retention period)", field="timestamp")
    return _ms(stamp)


def _number(device: str, raw: Any, *, field: str, required: bool = False) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise _bad(device, f"{field} is missing", field=field)
        return None
    if isinstance(raw, bool):
        raise _bad(device, f"{field} must be a number, got {raw!r}", field=field)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise _bad(device, f"{field} must be a number, got {str(raw)[:40]!r}", field=field) from None
    if not math.isfinite(number):
        raise _bad(device, f"{field} must be a finite number, got {raw!r}", field=field)
    return number


def _known(value: float | None) -> float | None:
    """Traccar clients send -1 for "unknown" speed, heading and battery."""
    return None if value is None or value < 0 else value


def _checked_position(device: str, lat: float | None, lon: float | None) -> tuple[float, float]:
    assert lat is not None and lon is not None
    if not -90.0 <= lat <= 90.0:
        raise _bad(device, f"lat {lat} is out of range [-90, 90]", field="lat")
    if not -180.0 <= lon <= 180.0:
        raise _bad(device, f"lon {lon} is out of range [-180, 180]", field="lon")
    if lat == 0.0 and lon == 0.0:
        raise _bad(device, "lat/lon (0, 0) is a device without a GPS fix", field="lat")
    return lon, lat


def _device(raw: Any) -> str:
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise _bad(None, "the device id (id or deviceid) is missing", field="id")
    if len(text) > MAX_DEVICE_ID_CHARS or not text.isprintable():
        raise _bad(None, f"the device id must be at most {MAX_DEVICE_ID_CHARS} printable characters", field="id")
    return text


def fix_from_params(params: Mapping[str, str], limits: FixLimits) -> Fix:
    """A fix from OsmAnd parameters (query string or form), first value of each name."""
    device = _device(params.get("id") or params.get("deviceid"))
    lat = _number(device, params.get("lat"), field="lat", required=True)
    lon = _number(device, params.get("lon"), field="lon", required=True)
    lon, lat = _checked_position(device, lat, lon)
    speed_kmh = _known(_number(device, params.get("speed"), field="speed"))
    return Fix(
        device_id=device,
        lon=lon,
        lat=lat,
        fix_time=_checked_time(device, params.get("timestamp"), limits),
        speed_mps=None if speed_kmh is None else speed_kmh * KMH_TO_MPS,
        bearing_deg=_known(_number(device, params.get("bearing"), field="bearing")),
        altitude_m=_number(device, params.get("altitude"), field="altitude"),
        accuracy_m=_known(_number(device, params.get("accuracy"), field="accuracy")),
        battery_pct=_known(_number(device, params.get("batt"), field="batt")),
        protocol=PROTOCOL_OSMAND,
    )


def fix_from_json(body: Any, limits: FixLimits) -> Fix:
    """A fix from the Traccar Client JSON body (already parsed)."""
    if not isinstance(body, Mapping):
        raise _bad(None, "the JSON body must be an object with device_id and location", field="body")
    device = _device(body.get("device_id"))
    location = body.get("location")
    if not isinstance(location, Mapping):
        raise _bad(device, "location must be one object (one fix per request)", field="location")
    coords = location.get("coords")
    if not isinstance(coords, Mapping):
        raise _bad(device, "location.coords with latitude and longitude is missing", field="coords")
    lat = _number(device, coords.get("latitude"), field="latitude", required=True)
    lon = _number(device, coords.get("longitude"), field="longitude", required=True)
    lon, lat = _checked_position(device, lat, lon)
    battery = location.get("battery")
    level = _number(device, battery.get("level"), field="battery.level") if isinstance(battery, Mapping) else None
    level = _known(level)
    return Fix(
        device_id=device,
        lon=lon,
        lat=lat,
        fix_time=_checked_time(device, location.get("timestamp"), limits),
        speed_mps=_known(_number(device, coords.get("speed"), field="speed")),
        bearing_deg=_known(_number(device, coords.get("heading"), field="heading")),
        altitude_m=_number(device, coords.get("altitude"), field="altitude"),
        accuracy_m=_known(_number(device, coords.get("accuracy"), field="accuracy")),
        battery_pct=None if level is None else level * 100.0,
        protocol=PROTOCOL_JSON,
    )


def _first_values(text: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items() if v}


def fix_from_request(*, query: str, body: bytes, content_type: str | None, limits: FixLimits) -> Fix:
    """A fix from any protocol form: JSON body, else query parameters, else a form body (as Traccar reads them)."""
    if len(body) > MAX_BODY_BYTES:
        raise _bad(None, f"the request body is larger than {MAX_BODY_BYTES} bytes (one fix per request)",
                   field="body")
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime == "application/json":
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _bad(None, f"the body is not valid JSON ({exc})", field="body") from None
        return fix_from_json(parsed, limits)
    params = _first_values(query)
    if not params and body:
        try:
            params = _first_values(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise _bad(None, "the form body is not UTF-8", field="body") from None
    return fix_from_params(params, limits)
