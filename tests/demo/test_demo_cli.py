"""``gridmap demo``: builds when empty or --replace, keeps an existing demo, serves the portal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.store.factory import open_store


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)


def test_builds_then_keeps_then_replaces(tmp_path: Path) -> None:
    url = f"gpkg://{tmp_path / 'demo.gpkg'}"
    first = _run("--store", url, "--no-serve", "--scale", "0.05")
    assert first.exit_code == 0, first.output
    assert "communities" in first.output and "households" in first.output and "(already built" not in first.output
    store = open_store(url, Settings())
    communities = store.count(schema.AREAS, where={"level": "community"})
    assert f"{communities:>10}" in first.output
    names = store.read(schema.AREAS, columns=["name"])["name"].tolist()
    workers = store.read(schema.WORKERS, columns=["photo"])  # labelled placeholders beside the GeoPackage
    assert sorted(p.name for p in (tmp_path / "photos").glob("*.png")) == sorted(workers["photo"])
    assert f"{len(workers)} synthetic placeholder photo(s)" in first.output
    again = _run("--store", url, "--no-serve", "--scale", "0.05", "--seed", "99")
    assert again.exit_code == 0 and "already built; kept" in again.output
    assert store.read(schema.AREAS, columns=["name"])["name"].tolist() == names  # seed 99 did not rebuild
    replaced = _run("--store", url, "--no-serve", "--scale", "0.05", "--seed", "99", "--replace")
    assert replaced.exit_code == 0 and "already built" not in replaced.output
    assert store.read(schema.AREAS, columns=["name"])["name"].tolist() != names


def test_serves_the_portal_after_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridmap.portal import server

    calls: list[tuple[Settings, dict[str, Any]]] = []
    monkeypatch.setattr(server, "serve", lambda settings, **kw: calls.append((settings, kw)))
    url = f"gpkg://{tmp_path / 'demo.gpkg'}"
    result = _run("--store", url, "--scale", "0.05", "--port", "8123", "--host", "127.0.0.1")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/" in result.output
    (settings, kwargs), = calls
    assert settings.store_url == url
    assert kwargs == {"host": "127.0.0.1", "port": 8123, "workers": 8, "dev": False}  # 6 live streams + 2


def test_without_the_portal_it_still_builds_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gridmap.portal.server", None)  # import now raises ModuleNotFoundError
    url = f"gpkg://{tmp_path / 'demo.gpkg'}"
    result = _run("--store", url, "--scale", "0.05")
    assert result.exit_code == 0, result.output
    assert "portal is not available" in result.output
    assert open_store(url, Settings()).count(schema.BUILDINGS) > 0


def test_bad_store_url_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--store", "nosuch://x", "--no-serve"])
    assert result.exit_code == 2 and "unknown store scheme" in result.output
