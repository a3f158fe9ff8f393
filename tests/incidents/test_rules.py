"""Configurable rules without a store: categories, policy files, deadlines, cards, duplicate distances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from pyproj import Geod

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.incidents.categories import DEFAULT_CATEGORIES, CategoryCatalogue, Level
from gridmap.incidents.duplicates import DuplicateRules, duplicate_candidates
from gridmap.incidents.escalation import CardRules, escalation_decisions
from gridmap.incidents.policy import policy_from_file, policy_from_settings
from gridmap.incidents.workflow import Action

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CATALOGUE = CategoryCatalogue(DEFAULT_CATEGORIES)


def test_default_categories_cover_the_taxonomy() -> None:
    names = {c.name_zh for c in DEFAULT_CATEGORIES}
    assert {"矛盾纠纷", "安全隐患", "消防", "环境卫生", "市容秩序", "特殊人群", "公共设施"} <= names
    assert [c.service_code for c in DEFAULT_CATEGORIES if c.urgent] == ["emergency"]
    assert CATALOGUE.get("环境卫生") is CATALOGUE.get("sanitation") is CATALOGUE.get("Sanitation")
    fire = CATALOGUE.get("fire")
    assert fire.deadline(Level.GRID) == timedelta(hours=12) and fire.deadline(Level.COMMAND) == timedelta(hours=72)
    with pytest.raises(ValidationError, match="known service codes"):
        CATALOGUE.get("ufo")


TOML = """
penalty_after_failures = 2
[duplicates]
radius_m = 50
days = 3
[cards]
red_after_overdues = 3
[scoring]
pass_score = 75
ab_weights = [0.7, 0.3]
[[categories]]
service_code = "pothole"
name_zh = "道路坑洼"
name_en = "Pothole"
deadline_hours = { grid = 6, community = 12, street = 24, district = 48 }
aliases = ["坑洼"]
"""


def test_policy_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "incidents.toml"
    path.write_text(TOML, encoding="utf-8")
    policy = policy_from_settings(Settings(incidents_config=str(path)))
    assert [c.service_code for c in policy.catalogue] == ["pothole"] and policy.catalogue.get("坑洼")
    assert (policy.duplicates.radius_m, policy.duplicates.days, policy.penalty_after_failures) == (50, 3, 2)
    assert (policy.cards.yellow_after_overdues, policy.cards.red_after_overdues) == (1, 3)
    assert policy.scoring.pass_score == 75 and policy.scoring.ab_weights == (0.7, 0.3)
    from_extra = policy_from_settings(Settings(extra={"incidents": {"duplicates": {"radius_m": 30}}}))
    assert from_extra.duplicates.radius_m == 30 and len(from_extra.catalogue) == len(DEFAULT_CATEGORIES)


@pytest.mark.parametrize("text, words", [
    ("[cards]\nyellow_after_overdues = 3\nred_after_overdues = 2\n", "yellow_after_overdues"),
    ("[duplicates]\nradius = 5\n", "[duplicates]"),
    ("colour = 'red'\n", "unknown setting"),
    ("[[categories]]\nservice_code = 'x'\nname_zh = 'x'\ndeadline_hours = { grid = 1 }\n", "lacks level"),
    ("[scoring]\nab_weights = [0.5, 0.4]\n", "ab_weights"),
    ("penalty_after_failures = 0\n", "penalty_after_failures"),
    ("not toml = = =\n", "cannot be parsed"),
])
def test_bad_policy_files_name_the_file_and_rule(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        policy_from_file(path)
    assert str(path) in err.value.message and words in err.value.message


def test_card_rules() -> None:
    rules = CardRules()
    assert rules.card_for(1, 1.1, None) == "yellow"
    assert rules.card_for(1, 2.5, None) == "red"  # > 2x the allowed time at one level
    assert rules.card_for(2, 1.0, "yellow") == "red"
    assert rules.card_for(1, 1.0, "red") == "red"  # a card never softens


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"version": 1, "overdue_count": 0, "card": None, "level": "grid", "category": "sanitation"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_escalation_decisions() -> None:
    t0 = NOW - timedelta(hours=30)
    frame = _frame([
        {"incident_id": "due", "status": "assigned", "reported_at": t0, "deadline_at": t0 + timedelta(hours=24)},
        {"incident_id": "not_yet", "status": "reported", "reported_at": t0, "deadline_at": NOW + timedelta(hours=1)},
        {"incident_id": "handled", "status": "handled", "reported_at": t0, "deadline_at": t0},
        {"incident_id": "imported", "status": "in_progress", "reported_at": t0, "deadline_at": None,
         "version": None, "category": "市容秩序"},
        {"incident_id": "top", "status": "in_progress", "reported_at": t0, "level": "command",
         "deadline_at": NOW - timedelta(hours=1), "overdue_count": 1, "card": "yellow"},
        {"incident_id": "ufo", "status": "reported", "reported_at": t0, "deadline_at": t0, "category": "ufo"},
    ])
    decisions = {d.incident_id: d for d in escalation_decisions(frame, now=NOW, catalogue=CATALOGUE,
                                                                 rules=CardRules())}
    assert set(decisions) == {"due", "imported", "top"}
    due = decisions["due"]
    assert (due.action, due.to_level, due.card, due.version) == (Action.ESCALATE, Level.COMMUNITY, "yellow", 1)
    assert due.overdue_h == pytest.approx(6.0) and "超期 6.0 小时" in due.note()
    assert decisions["imported"].version == 0 and decisions["imported"].to_level is Level.COMMUNITY
    assert (decisions["top"].action, decisions["top"].card) == (Action.CARD, "red")
    with pytest.raises(ValidationError):
        escalation_decisions(frame, now=NOW.replace(tzinfo=None), catalogue=CATALOGUE, rules=CardRules())


GEOD = Geod(ellps="WGS84")
LON, LAT = 114.255, 35.755


def _east(metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(LON, LAT, 90.0, metres)
    return lon, lat


def test_duplicate_distances_are_metres() -> None:
    rows = [("d40", 40, "sanitation", "G1", "reported", 1), ("d99", 99, "sanitation", "G1", "assigned", 2),
            ("d101", 101, "sanitation", "G1", "reported", 1), ("other_cat", 10, "fire", "G1", "reported", 1),
            ("other_grid", 10, "sanitation", "G2", "reported", 1), ("closed", 10, "sanitation", "G1", "closed", 1),
            ("old", 10, "sanitation", "G1", "reported", 9)]
    frame = [{"incident_id": r[0], "category": r[2], "grid_code": r[3], "status": r[4],
              "reported_at": NOW - timedelta(days=r[5]), "description": "x", "lon": _east(r[1])[0],
              "lat": _east(r[1])[1]} for r in rows]
    found = duplicate_candidates(frame, lon=LON, lat=LAT, category="sanitation", grid_code="G1", now=NOW,
                                 rules=DuplicateRules(radius_m=100, days=7))
    assert [c.incident_id for c in found] == ["d40", "d99"]
    assert [c.distance_m for c in found] == pytest.approx([40.0, 99.0], abs=0.3)  # Gauss-Krüger vs geodesic
    assert duplicate_candidates(frame, lon=LON, lat=LAT, category="sanitation", grid_code="G1", now=NOW,
                                rules=DuplicateRules(radius_m=100, days=7, limit=1))[0].incident_id == "d40"
    with pytest.raises(ValidationError):
        DuplicateRules(radius_m=0)
