"""``gridmap export positions``: the time window, both formats, and the refusals."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.services.position_export import export_positions
from gridmap.store.factory import open_store
from gridmap.tracking.devices import DeviceRegistry, GridLocator
from gridmap.tracking.ingest import Ticket
from gridmap.tracking.pings import Fix
from gridmap.tracking.writer import commit_batch
from tests.tracking import world

# 2024-05-05 23:30 .. 2024-05-06 00:30 local (Asia/Shanghai), one fix every 10 minutes
START = datetime(2024, 5, 5, 15, 30, tzinfo=UTC)


def fill(store, settings) -> None:
    registry, locator = DeviceRegistry(store), GridLocator(store)
    tickets = [Ticket(Fix("dev-a", *world.inside(world.A, 0.1 * (i + 1)), START + timedelta(minutes=10 * i),
                          speed_mps=1.5), registry.lookup("dev-a")) for i in range(7)]
    commit_batch(store, settings, tickets, locate=locator.codes, now=START + timedelta(hours=1),
                 alert_after=timedelta(minutes=30))


def test_window_by_local_date_and_by_time(world_store, settings, tmp_path: Path) -> None:
    fill(world_store, settings)
    day = export_positions(world_store, settings, "csv", tmp_path / "day.csv", since="2024-05-06",
                           until="2024-05-06")
    assert day.rows == 4  # 00:00, 00:10, 00:20, 00:30 local
    with open(tmp_path / "day.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["fix_time"][:16] for r in rows] == ["2024-05-05T16:00", "2024-05-05T16:10", "2024-05-05T16:20",
                                                   "2024-05-05T16:30"]
    assert float(rows[0]["lon"]) == pytest.approx(world.inside(world.A, 0.4)[0]) and rows[0]["grid_code"] == world.A
    timed = export_positions(world_store, settings, "geojson", tmp_path / "t.geojson",
                             since="2024-05-05T23:40:00", until="2024-05-06T00:10:00+08:00")
    doc = json.loads((tmp_path / "t.geojson").read_text(encoding="utf-8"))
    assert timed.rows == len(doc["features"]) == 3  # 23:40, 23:50, 00:00; until is exclusive
    assert doc["features"][0]["geometry"]["type"] == "Point"
    everything = export_positions(world_store, settings, "csv", tmp_path / "all.csv")
    assert everything.rows == 7


def test_refusals(world_store, settings, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not after"):
        export_positions(world_store, settings, "csv", tmp_path / "x.csv", since="2024-05-06", until="2024-05-05")
    with pytest.raises(ValidationError, match="not a date"):
        export_positions(world_store, settings, "csv", tmp_path / "x.csv", since="yesterday")
    with pytest.raises(ValidationError, match="does not exist"):
        export_positions(world_store, settings, "csv", tmp_path / "no" / "x.csv")


def test_cli_export_positions(tmp_path: Path) -> None:
    url = f"gpkg://{tmp_path / 'cli.gpkg'}"
    store = open_store(url, Settings())
    world.populate_store(store)
    fill(store, Settings())
    store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "positions", "--store", url, "--format", "csv", "--out",
                                 str(tmp_path / "p.csv"), "--since", "2024-05-06", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["report"]["rows"] == 4
    wrong = runner.invoke(cli, ["export", "roads", "--store", url, "--out", str(tmp_path / "r.csv"), "--since",
                                "2024-05-06"])
    assert wrong.exit_code == 2 and "positions layer only" in wrong.output
