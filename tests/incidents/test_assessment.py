"""Assessment metrics and the 100-point score on a hand-computed example; charts escape their labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from defusedxml import ElementTree as SafeET

from gridmap.errors import ValidationError
from gridmap.incidents.assessment import ScoreRules, ab_scores, by_category, trend, unit_metrics, window
from gridmap.portal.incidents.charts import bar_chart, line_chart, pie_chart

T = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def incidents() -> pd.DataFrame:
    rows = [
        # id, grid, status, reported, handled after, deadline after, overdue, card, failures, penalty, satisfaction
        ("i1", "G1", "closed", T, 10, 24, 0, None, 0, False, 4),
        ("i2", "G1", "evaluated", T + 24 * H, 30, 24, 1, "yellow", 1, False, 2),
        ("i3", "G1", "in_progress", T + 24 * 40 * H, None, 24, 2, "red", 3, True, None),
        ("i4", "G1", "rejected", T, None, 24, 0, None, 0, False, None),
        ("i5", "G2", "evaluated", T, 5, 24, 0, None, 0, False, 5),
    ]
    frame = pd.DataFrame([{
        "incident_id": r[0], "grid_code": r[1], "status": r[2], "reported_at": pd.Timestamp(r[3]),
        "handled_at": pd.Timestamp(r[3] + r[4] * H) if r[4] is not None else pd.NaT,
        "closed_at": pd.Timestamp(r[3] + (r[4] + 1) * H) if r[4] is not None else pd.NaT,
        "deadline_at": pd.Timestamp(r[3] + r[5] * H), "overdue_count": r[6], "card": r[7],
        "verification_failures": r[8], "penalty": r[9], "satisfaction": r[10], "supervised": r[9],
        "category": "fire" if r[0] == "i5" else "sanitation", "assigned_to": "W1", "department": None,
        "community_code": "C1", "street_code": "S1",
    } for r in rows])
    return window(frame)


def test_grid_metrics_and_score_by_hand() -> None:
    m = unit_metrics(incidents(), unit="grid", rules=ScoreRules()).set_index("unit")
    g1 = m.loc["G1"]
    assert (g1["received"], g1["closed"], g1["on_time"]) == (3, 2, 1)  # the rejected report is not a case
    assert g1["closure_rate"] == pytest.approx(2 / 3) and g1["on_time_rate"] == 0.5
    assert g1["mean_handling_h"] == 20.0 and g1["satisfaction_mean"] == 3.0
    assert (g1["verification_failures"], g1["yellow_cards"], g1["red_cards"], g1["penalties"]) == (4, 1, 1, 1)
    # 30*2/3 + 30*0.5 + 20*3/5 + 20*max(0, 1-4/2) = 47; minus yellow 2, red 5, penalty 5 = 35
    assert g1["score"] == 35.0 and not g1["passed"]
    assert m.loc["G2", "score"] == 100.0 and m.loc["G2", "passed"] and m.loc["G2", "rank"] == 1
    assert m.loc["G1", "rank"] == 2


def test_weights_are_configurable_and_missing_data_is_not_punished() -> None:
    rules = ScoreRules(weights={"closure_rate": 1.0, "on_time_rate": 0.0, "satisfaction": 0.0, "verification": 0.0},
                       deductions={"yellow": 0.0, "red": 0.0, "penalty": 0.0}, pass_score=60)
    m = unit_metrics(incidents(), unit="grid", rules=rules).set_index("unit")
    assert m.loc["G1", "score"] == pytest.approx(66.7) and m.loc["G1", "passed"]
    only_open = incidents().iloc[[2]]
    assert unit_metrics(only_open, unit="grid", rules=ScoreRules())["score"].iloc[0] == 0.0  # 0 closed -> 0 % - 12
    with pytest.raises(ValidationError):
        ScoreRules(weights={"speed": 1.0})
    with pytest.raises(ValidationError):
        unit_metrics(incidents(), unit="planet", rules=ScoreRules())


def test_ab_posts_weigh_60_40() -> None:
    grid = unit_metrics(incidents(), unit="grid", rules=ScoreRules())
    workers = pd.DataFrame({"worker_id": ["W1", "W2", "W3"], "name": ["张", "李", "王"],
                            "grid_code": ["G1", "G2", "G3"], "partner_worker_id": ["W2", "W1", None]})
    ab = ab_scores(grid, workers, rules=ScoreRules()).set_index("worker_id")
    assert ab.loc["W1", "score"] == pytest.approx(0.6 * 35 + 0.4 * 100)
    assert ab.loc["W2", "score"] == pytest.approx(0.6 * 100 + 0.4 * 35) and not ab.loc["W2", "passed"]  # 74 < 80
    assert pd.isna(ab.loc["W3", "score"])


def test_trend_and_categories() -> None:
    t = trend(incidents())
    assert [p.strftime("%Y-%m") for p in t["period"]] == ["2025-03", "2025-04"]
    assert t["received"].tolist() == [3, 1] and t["closed"].tolist() == [3, 0]
    assert by_category(incidents()).values.tolist() == [["sanitation", 3], ["fire", 1]]


HOSTILE = '<script>alert(1)</script>"&'


def test_charts_are_well_formed_svg_with_escaped_labels() -> None:
    charts = [bar_chart([HOSTILE, "G2"], [35.0, 100.0], title=HOSTILE, marker=80, marker_label=HOSTILE),
              pie_chart([HOSTILE, "fire"], [3, 1], title="pie"),
              line_chart(["2025-03", HOSTILE], {HOSTILE: [3, 1], "closed": [3, 0]}, title="trend")]
    for svg in charts:
        assert "<script>" not in str(svg)
        root = SafeET.fromstring(str(svg))
        texts = [e.text for e in root.iter() if e.text]
        assert any(HOSTILE in t for t in texts)  # the label is there, as text
    bars = SafeET.fromstring(str(charts[0])).findall("{http://www.w3.org/2000/svg}rect")
    assert [float(b.get("width")) for b in bars] == pytest.approx([0.35 * 400, 400.0])
