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
from gridmap.store.base import open_store
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
