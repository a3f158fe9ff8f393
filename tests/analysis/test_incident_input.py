"""Incident checks: times, weights and windows, with messages that name the file, column and incidents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.analysis.incident_input import (
    filter_incidents,
    incident_points,
    incident_times,
    incident_weights,
    time_window,
)
from gridmap.errors import ValidationError
from tests.analysis import sample


def frame(**columns):
    points = sample.lonlat([shapely.Point(sample.X0 + 10 * i, sample.Y0) for i in range(4)])
    return sample.incidents_frame(points, **columns)


def test_times_parse_mixed_iso_forms_to_utc():
    f = frame(reported_at=["2024-03-01T08:00:00+08:00", "2024-03-01 00:00", "2024-03-01T00:00:00Z", "2024-02-29"])
    times = incident_times(f, source="a.csv")
    assert list(times.dt.hour) == [0, 0, 0, 0]
    assert str(times.dt.tz) == "UTC"


def test_unparsable_and_missing_times_are_named():
    f = frame(when=["2024-03-01", "yesterday", "2024-13-01", "2024-03-02"])
    with pytest.raises(ValidationError) as err:
        incident_times(f, "when", source="a.csv")
    assert err.value.code == "unparsable_time"
    assert "a.csv" in err.value.message and "'when'" in err.value.message and "EV000002, EV000003" in err.value.message
    f = frame(reported_at=["2024-03-01", None, "2024-03-02", "2024-03-03"])
    with pytest.raises(ValidationError, match=r"1 incident\(s\) have no time .*EV000002"):
        incident_times(f, source="b.geojson")
    with pytest.raises(ValidationError, match="no time column 'created'"):
        incident_times(f, "created", source="b.geojson")


def test_weights_must_be_non_negative_numbers():
    np.testing.assert_array_equal(incident_weights(frame(), None, source="x"), [1, 1, 1, 1])
    np.testing.assert_array_equal(incident_weights(frame(w=["1", 2, 3.5, 0]), "w", source="x"), [1, 2, 3.5, 0])
    with pytest.raises(ValidationError, match="not numbers"):
        incident_weights(frame(w=[1, "high", 2, 3]), "w", source="x")
    with pytest.raises(ValidationError, match="negative"):
        incident_weights(frame(w=[1, -2, 2, 3]), "w", source="x")


def test_non_point_geometry_and_window_errors():
    f = frame()
    f.loc[2, "geometry"] = shapely.box(114.0, 35.0, 114.1, 35.1)
    with pytest.raises(ValidationError, match="not points"):
        incident_points(f, source="x")
    with pytest.raises(ValidationError, match="is not before"):
        time_window("2024-05-01", "2024-04-01")
    with pytest.raises(ValidationError, match="not a date"):
        time_window("soon", None)


def test_filter_by_category_and_half_open_window():
    f = frame(category=["a", "b", "a", "a"],
              reported_at=pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"], utc=True))
    out = filter_incidents(f, source="x", categories=["a"], start="2024-01-01", end="2024-04-01")
    assert list(out["incident_id"]) == ["EV000001", "EV000003"]
