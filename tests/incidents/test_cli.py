"""``gridmap tokens create/list/revoke`` and ``gridmap escalate`` through click, on both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridmap.auth.accounts import principal_from_api_key
from gridmap.auth.principal import PUBLIC
from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.errors import AuthenticationError
from gridmap.model import Role
from gridmap.services.incidents import IncidentService
from gridmap.store.base import Store
from tests.incidents import sample


def test_tokens_create_list_revoke(incident_store: Store) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["tokens", "create", "--role", "worker", "--area", sample.GRID_A1,
                               "--label", "巡查终端", "--store", incident_store.url])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[0]
    principal = principal_from_api_key(incident_store, key)
    assert (principal.role, principal.area_code) == (Role.WORKER, sample.GRID_A1)
    token_id = key.split("_")[1]
    listed = runner.invoke(cli, ["tokens", "list", "--store", incident_store.url])
    assert f"{token_id}\tworker\t{sample.GRID_A1}\tactive\t巡查终端" in listed.stdout and key not in listed.stdout
    assert runner.invoke(cli, ["tokens", "revoke", token_id, "--store", incident_store.url]).exit_code == 0
    with pytest.raises(AuthenticationError):
        principal_from_api_key(incident_store, key)
    bad = runner.invoke(cli, ["tokens", "create", "--role", "wizard", "--area", sample.DISTRICT,
                              "--store", incident_store.url])
    assert bad.exit_code == 2 and "unknown role" in bad.stderr


def test_escalate_command_with_now(incident_store: Store) -> None:
    t0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
    svc = IncidentService(incident_store, Settings(allow_anonymous_reports=True), clock=lambda: t0)
    point = sample.INSIDE[sample.GRID_B2]
    iid = svc.report(PUBLIC, {"service_code": "fire", "lat": point[1], "long": point[0]}).incident["incident_id"]
    runner = CliRunner()
    later = (t0 + timedelta(hours=13)).astimezone(UTC).isoformat()  # fire: 12 h at the grid
    out = runner.invoke(cli, ["escalate", "--store", incident_store.url, "--now", later, "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["escalated"] == [iid] and report["checked"] == 1
    again = runner.invoke(cli, ["escalate", "--store", incident_store.url, "--now", later])
    assert "0 escalated" in again.stdout
    assert svc.get(iid)["level"] == "community"


def test_incidents_import_command(incident_store: Store, tmp_path: Path) -> None:
    a1, b1 = sample.INSIDE[sample.GRID_A1], sample.INSIDE[sample.GRID_B1]
    path = tmp_path / "hotline.csv"
    path.write_text(f"事件编号,category,lon,lat\nRX1,消防,{a1[0]},{a1[1]}\nRX2,sanitation,{b1[0]},{b1[1]}\n",
                    encoding="utf-8")
    out = CliRunner().invoke(cli, ["incidents", "import", str(path), "--store", incident_store.url])
    assert out.exit_code == 0, out.output
    assert "imported 2 incident(s)" in out.stdout
    svc = IncidentService(incident_store, Settings())
    assert svc.get("RX1")["grid_code"] == sample.GRID_A1 and svc.get("RX2")["category"] == "sanitation"
    again = CliRunner().invoke(cli, ["incidents", "import", str(path), "--store", incident_store.url])
    assert again.exit_code == 2 and "RX1" in again.stderr  # duplicate ids: nothing written twice
