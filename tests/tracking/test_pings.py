"""The OsmAnd / Traccar JSON parser: units, timestamp forms, and every refusal naming its field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gridmap.errors import ValidationError
from gridmap.tracking.pings import (
    KMH_TO_MPS,
    PROTOCOL_JSON,
    FixLimits,
    fix_from_json,
    fix_from_params,
    fix_from_request,
    time_from_text,
)

NOW = datetime(2024, 5, 6, 8, 0, 0, tzinfo=UTC)
LIMITS = FixLimits(now=NOW, max_future_s=300.0)


def test_osmand_query_gives_si_units_and_utc() -> None:
    fix = fix_from_request(
        query="id=dev-1&lat=35.75&lon=114.01&timestamp=1714982400&speed=36&bearing=90&altitude=80&accuracy=5&batt=77",
        body=b"", content_type=None, limits=LIMITS)
    assert (fix.device_id, fix.lon, fix.lat) == ("dev-1", 114.01, 35.75)
    assert fix.fix_time == datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
    assert fix.speed_mps == pytest.approx(36 * KMH_TO_MPS) and fix.speed_mps == pytest.approx(10.0)
    assert (fix.bearing_deg, fix.altitude_m, fix.accuracy_m, fix.battery_pct) == (90.0, 80.0, 5.0, 77.0)


def test_form_body_is_read_when_the_query_is_empty_and_deviceid_is_accepted() -> None:
    fix = fix_from_request(query="", body=b"deviceid=abc&lat=35.7&lon=114.2&timestamp=2024-05-06T07:59:00Z",
                           content_type="application/x-www-form-urlencoded", limits=LIMITS)
    assert fix.device_id == "abc" and fix.fix_time == NOW - timedelta(minutes=1)
    assert fix.speed_mps is None and fix.battery_pct is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1714982400", datetime(2024, 5, 6, 8, 0, tzinfo=UTC)),
        ("1714982400123", datetime(2024, 5, 6, 8, 0, 0, 123000, tzinfo=UTC)),  # milliseconds
        ("1714982400.5", datetime(2024, 5, 6, 8, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-06T16:00:00+08:00", datetime(2024, 5, 6, 8, 0, tzinfo=UTC)),
        ("2024-05-06T08:00:00", datetime(2024, 5, 6, 8, 0, tzinfo=UTC)),  # naive = UTC
        ("2024-05-06 08:00:00", datetime(2024, 5, 6, 8, 0, tzinfo=UTC)),
        ("060524080000", datetime(2024, 5, 6, 8, 0, tzinfo=UTC)),  # ddMMyyHHmmss
    ],
)
def test_timestamp_forms(text: str, expected: datetime) -> None:
    assert time_from_text(text) == expected


def test_fix_time_is_cut_to_the_millisecond_the_stores_keep() -> None:
    fix = fix_from_params({"id": "d", "lat": "35.7", "lon": "114.2", "timestamp": "2024-05-06T07:00:00.123456Z"},
                          LIMITS)
    assert fix.fix_time.microsecond == 123000


def test_missing_timestamp_uses_the_server_clock() -> None:
    fix = fix_from_params({"id": "d", "lat": "35.7", "lon": "114.2"}, LIMITS)
    assert fix.fix_time == NOW


def test_traccar_json_body() -> None:
    body = {"device_id": "dev-9", "location": {
        "timestamp": "2024-05-06T07:30:00.250Z",
        "coords": {"latitude": 35.76, "longitude": 114.02, "accuracy": 8.5, "speed": 1.4, "heading": 270,
                   "altitude": 91},
        "battery": {"level": 0.42, "is_charging": False}, "is_moving": True}}
    fix = fix_from_request(query="", body=json.dumps(body).encode(), content_type="application/json; charset=utf-8",
                           limits=LIMITS)
    assert fix.protocol == PROTOCOL_JSON and fix.device_id == "dev-9"
    assert (fix.lon, fix.lat, fix.speed_mps, fix.bearing_deg, fix.accuracy_m) == (114.02, 35.76, 1.4, 270.0, 8.5)
    assert fix.battery_pct == pytest.approx(42.0)
    assert fix.fix_time == datetime(2024, 5, 6, 7, 30, 0, 250000, tzinfo=UTC)


def test_json_negative_values_mean_unknown() -> None:
    body = {"device_id": "d", "location": {"timestamp": "2024-05-06T07:30:00Z", "coords": {
        "latitude": 35.7, "longitude": 114.2, "speed": -1, "heading": -1, "accuracy": 3}, "battery": {"level": -1}}}
    fix = fix_from_json(body, LIMITS)
    assert fix.speed_mps is None and fix.bearing_deg is None and fix.battery_pct is None


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"lat": "35.7", "lon": "114.2"}, "id", "device id"),
        ({"id": "d", "lon": "114.2"}, "lat", "lat is missing"),
        ({"id": "d", "lat": "95", "lon": "114.2"}, "lat", "out of range"),
        ({"id": "d", "lat": "35.7", "lon": "-181"}, "lon", "out of range"),
        ({"id": "d", "lat": "nan", "lon": "114.2"}, "lat", "finite"),
        ({"id": "d", "lat": "abc", "lon": "114.2"}, "lat", "must be a number"),
        ({"id": "d", "lat": "0", "lon": "0"}, "lat", "without a GPS fix"),
        ({"id": "d", "lat": "35.7", "lon": "114.2", "timestamp": "yesterday"}, "timestamp", "not unix seconds"),
        ({"id": "d", "lat": "35.7", "lon": "114.2", "timestamp": "2024-05-06T09:00:00Z"}, "timestamp", "after the"),
        ({"id": "d", "lat": "35.7", "lon": "114.2", "timestamp": "0"}, "timestamp", "before"),
        ({"id": "d", "lat": "35.7", "lon": "114.2", "speed": "fast"}, "speed", "must be a number"),
        ({"id": "x" * 65, "lat": "35.7", "lon": "114.2"}, "id", "at most 64"),
    ],
)
def test_bad_input_is_refused_naming_the_field(params: dict[str, str], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        fix_from_params(params, LIMITS)
    assert caught.value.http_status == 400
    assert caught.value.details is not None and caught.value.details["field"] == field
    assert words in caught.value.message and "nothing was stored" in caught.value.message


def test_a_fix_older_than_the_configured_limit_is_refused() -> None:
    limits = FixLimits(now=NOW, oldest=NOW - timedelta(days=90))
    with pytest.raises(ValidationError, match="retention"):
        fix_from_params({"id": "d", "lat": "35.7", "lon": "114.2", "timestamp": "2024-01-01T00:00:00Z"}, limits)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps([1, 2]).encode(), "must be an object"),
        (json.dumps({"device_id": "d", "location": [{}]}).encode(), "one object"),
        (json.dumps({"device_id": "d", "location": {"timestamp": "2024-05-06T07:00:00Z"}}).encode(), "coords"),
    ],
)
def test_bad_json_bodies(body: bytes, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        fix_from_request(query="", body=body, content_type="application/json", limits=LIMITS)


def test_oversized_body_is_refused() -> None:
    with pytest.raises(ValidationError, match="larger than"):
        fix_from_request(query="", body=b"x" * 20_000, content_type="text/plain", limits=LIMITS)
