"""The tracking commands through click: purge-positions (dry run, JSON) and track-listen's help."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.services.tracking import TrackingService
from gridmap.store.factory import open_store
from tests.tracking import world


def _store_with_old_and_new(tmp_path: Path) -> str:
    url = f"gpkg://{tmp_path / 'cli.gpkg'}"
    store = open_store(url, Settings())
    world.populate_store(store)
    now = datetime.now(UTC)
    for days in (120, 0):
        at = now - timedelta(days=days, minutes=5)
        svc = TrackingService(store, Settings(), clock=lambda at=at: at + timedelta(minutes=1))
        lon, lat = world.inside(world.A)
        svc.receive(query=urlencode({"id": "dev-a", "lon": lon, "lat": lat, "timestamp": at.isoformat()}), body=b"",
                    content_type=None)
        svc.close()
    store.close()
    return url


def test_purge_positions_dry_run_then_for_real(tmp_path: Path) -> None:
    url = _store_with_old_and_new(tmp_path)
    runner = CliRunner()
    dry = runner.invoke(cli, ["purge-positions", "--store", url, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["report"]["positions"] == 1
    real = runner.invoke(cli, ["purge-positions", "--store", url])
    assert real.exit_code == 0 and "Deleted 1 position(s)" in real.output
    store = open_store(url, Settings())
    assert store.count(schema.POSITIONS) == 1
    store.close()


def test_purge_refuses_zero_days(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["purge-positions", "--store", f"gpkg://{tmp_path / 'x.gpkg'}",
                                      "--keep-days", "0"])
    assert result.exit_code != 0 and "0" in result.output


def test_track_listen_is_registered() -> None:
    result = CliRunner().invoke(cli, ["track-listen", "--help"])
    assert result.exit_code == 0 and "5055" in result.output


def _store_with_a_walk(tmp_path: Path) -> str:
    from gridmap.tracking.devices import DeviceRegistry, GridLocator
    from gridmap.tracking.ingest import Ticket
    from gridmap.tracking.pings import Fix
    from gridmap.tracking.writer import commit_batch

    url = f"gpkg://{tmp_path / 'walk.gpkg'}"
    settings = Settings()
    store = open_store(url, settings)
    world.populate_store(store)
    start = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)
    registry, locator = DeviceRegistry(store), GridLocator(store)
    tickets = [Ticket(Fix("dev-a", *world.inside(world.A, 0.1 + 0.8 * i / 44), start + timedelta(minutes=i)),
                      registry.lookup("dev-a")) for i in range(45)]
    commit_batch(store, settings, tickets, locate=locator.codes, now=start, alert_after=timedelta(minutes=30))
    store.close()
    return url


def test_patrol_report_as_table_json_and_csv(tmp_path: Path) -> None:
    url = _store_with_a_walk(tmp_path)
    runner = CliRunner()
    table = runner.invoke(cli, ["patrol-report", "--store", url, "--date", "2024-05-06"])
    assert table.exit_code == 0 and "w-a" in table.output and "张三" in table.output
    as_json = runner.invoke(cli, ["patrol-report", "--store", url, "--date", "2024-05-06", "--format", "json"])
    rows = {r["worker_id"]: r for r in json.loads(as_json.output)["rows"]}
    assert rows["w-a"]["own_h"] == round(44 / 60, 2) and rows["w-a"]["patrolled"] is True
    assert rows["w-b"]["own_share"] is None
    out = tmp_path / "grid.csv"
    runner.invoke(cli, ["patrol-report", "--store", url, "--period", "month", "--date", "2024-05", "--by", "grid",
                        "--format", "csv", "--out", str(out)])
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("month,grid_code") and any(line.startswith(f"2024-05,{world.A},") for line in lines)
    bad = runner.invoke(cli, ["patrol-report", "--store", url, "--date", "May", "--period", "month"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_workers_import_and_check(tmp_path: Path) -> None:
    url = f"gpkg://{tmp_path / 'w.gpkg'}"
    store = open_store(url, Settings())
    world.populate_store(store, with_workers=False)
    store.close()
    roster = tmp_path / "roster.csv"
    roster.write_text("worker_id,name,role,grid_code,partner_worker_id,device_id\n"
                      f"w1,张三,网格长,{world.A},w2,p1\nw2,李四,兼职网格员,{world.B},w1,p2\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["workers", "import", str(roster), "--store", url])
    assert result.exit_code == 0 and "2 new" in result.output
    assert runner.invoke(cli, ["workers", "check", "--store", url]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(f"worker_id,name,role,grid_code,partner_worker_id\nw3,王五,专职,{world.D},w1\n", encoding="utf-8")
    refused = runner.invoke(cli, ["workers", "import", str(bad), "--store", url, "--json"])
    assert refused.exit_code == 2
    assert {d["rule"] for d in json.loads(refused.output)["error"]["details"]} >= {"partner_not_adjacent"}
