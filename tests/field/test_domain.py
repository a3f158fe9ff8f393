"""Pure field rules: input parsing, import rows, due dates, coverage shares, score weights."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import shapely

from gridmap.errors import ValidationError
from gridmap.field.assessment import FieldScoreRules
from gridmap.field.coverage import days_of_month, month_days, visit_coverage
from gridmap.field.inputs import checkin_input, client_id, diary_input
from gridmap.field.points import due_points, point_rows

NOW = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)


def test_client_ids_are_canonical_uuids() -> None:
    assert client_id("6F9619FF-8B86-D011-B42D-00C04FC964FF", what="x") == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    with pytest.raises(ValidationError, match="must be a UUID"):
        client_id("1; DROP TABLE checkins", what="check-in")


def test_checkin_input_refuses_future_stale_and_impossible_positions() -> None:
    base = {"id": "6f9619ff-8b86-d011-b42d-00c04fc964ff", "point_id": "p", "lon": 114.3, "lat": 35.7}
    assert checkin_input(base, now=NOW).at == NOW
    with pytest.raises(ValidationError, match="in the future"):
        checkin_input({**base, "at": (NOW + timedelta(hours=1)).isoformat()}, now=NOW)
    with pytest.raises(ValidationError, match="more than 14 days old"):
        checkin_input({**base, "at": (NOW - timedelta(days=15)).isoformat()}, now=NOW)
    with pytest.raises(ValidationError, match="not a WGS84"):
        checkin_input({**base, "lat": 135.7}, now=NOW)
    with pytest.raises(ValidationError, match="accuracy"):
        checkin_input({**base, "accuracy": -3}, now=NOW)


def test_diary_input_limits() -> None:
    assert diary_input({"text": " a ", "tags": "x, y,x"}).tags == ["x", "y"]
    with pytest.raises(ValidationError, match="text is required"):
        diary_input({"text": "   "})
    with pytest.raises(ValidationError, match="at most 5000"):
        diary_input({"text": "字" * 5001})


def test_point_rows_name_every_problem_by_row() -> None:
    frame = pd.DataFrame({"编号": ["a", "a", "c"], "名称": ["甲", "乙", ""], "周期": ["3", "1.5", ""]})
    geoms = [shapely.Point(1, 1), shapely.Point(2, 2), None]
    rows, problems = point_rows(frame, geoms, default_interval_days=2)
    assert rows["interval_days"].tolist() == [3, 2, 2]
    messages = [(p.row, p.message) for p in problems]
    assert (2, "interval_days '1.5' must be a whole number of days 1..366") in messages
    assert (3, "the position is missing or is not a point") in messages
    assert (0, "point_id a appears more than once") in messages


def test_due_points_from_the_last_check_and_the_interval() -> None:
    points = pd.DataFrame({"point_id": ["a", "b", "c"], "interval_days": [2, 2, 7]})
    out = due_points(points, {"a": "2026-05-10", "c": "2026-05-11"}, today=date(2026, 5, 12))
    assert out["due_on"].tolist() == ["2026-05-12", "2026-05-12", "2026-05-18"]
    assert out["due"].tolist() == [True, True, False]


def test_month_and_visit_coverage() -> None:
    assert month_days("2024-02") == ("2024-02-01", "2024-02-29")
    with pytest.raises(ValidationError):
        month_days("2024-13")
    february = days_of_month("2024-02")  # the store filter of the month reports
    assert (len(february), february[0], february[28]) == (29, "2024-02-01", "2024-02-29")
    assert days_of_month("2026-12")[-1] == "2026-12-31" and len(set(days_of_month("2026-12"))) == 31
    with pytest.raises(ValidationError):
        days_of_month("2024-13")
    buildings = pd.DataFrame({"building_id": ["1", "2", "3", "4"], "grid_code": ["g1", "g1", "g1", "g2"]})
    out = visit_coverage(buildings, pd.DataFrame({"building_id": ["1", "1", "4"]})).set_index("grid_code")
    assert out.loc["g1", "visit_share"] == pytest.approx(1 / 3, abs=1e-4) and out.loc["g2", "visit_share"] == 1.0


def test_score_rules_are_checked() -> None:
    with pytest.raises(ValidationError, match="non-negative"):
        FieldScoreRules(weight_diaries=-1)
    with pytest.raises(ValidationError, match="targets"):
        FieldScoreRules(visits_target=0)
