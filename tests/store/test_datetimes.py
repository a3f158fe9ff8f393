"""Stored date/times: any aware value becomes UTC floored to the millisecond, however it was given."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap import schema
from gridmap.errors import ValidationError
from gridmap.schema import layer_spec
from gridmap.store.sql import canonical_value

ZONES = [dt.UTC, zoneinfo.ZoneInfo("Asia/Shanghai"), zoneinfo.ZoneInfo("America/New_York"),
         dt.timezone(dt.timedelta(hours=-3, minutes=-30))]  # fmt: skip
SPEC = layer_spec(schema.CHECKINS)
AT = SPEC.column("at")


def by_pandas(value: pd.Timestamp | dt.datetime) -> dt.datetime:
    """The reference: pandas' own conversion and floor."""
    result: dt.datetime = pd.Timestamp(value).tz_convert("UTC").floor("ms").to_pydatetime()
    return result


@settings(max_examples=400, deadline=None)
@given(ns=st.integers(-(2**62), 2**62), zone=st.sampled_from(ZONES))
def test_an_aware_timestamp_or_datetime_is_utc_floored_to_the_millisecond(ns: int, zone: dt.tzinfo) -> None:
    stamp = pd.Timestamp(ns, tz="UTC").tz_convert(zone)
    for value in (stamp, stamp.to_pydatetime(warn=False)):
        stored = canonical_value(SPEC, AT, value)
        assert type(stored) is dt.datetime and stored.tzinfo is dt.UTC
        assert stored == by_pandas(value) and stored.microsecond % 1000 == 0


def test_strings_still_parse_and_naive_values_are_refused() -> None:
    assert canonical_value(SPEC, AT, "2026-12-07T08:00:00.123999+08:00") == dt.datetime(
        2026, 12, 7, 0, 0, 0, 123000, tzinfo=dt.UTC)
    for naive in (pd.Timestamp("2026-12-07 08:00"), dt.datetime(2026, 12, 7, 8, 0)):
        with pytest.raises(ValidationError, match="has no time zone"):
            canonical_value(SPEC, AT, naive)
