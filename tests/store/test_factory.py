"""open_store: scheme -> backend, loaded lazily; third-party schemes only through entry points."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.store import factory
from gridmap.store.factory import BUILTIN_SCHEMES, ENTRY_POINT_GROUP, open_store
from gridmap.store.gpkg import GeoPackageStore

OPENED: list[str] = []


class MemoryStore:
    """A stand-in third-party store: records that it was opened and migrated."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    def migrate(self) -> int:
        OPENED.append(self.url)
        return 1


def _entry_points(*pairs: tuple[str, str]) -> Any:
    found = [EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP) for name, value in pairs]
    return lambda *, group: [ep for ep in found if ep.group == group]


def test_builtin_schemes_are_fixed() -> None:
    assert set(BUILTIN_SCHEMES) == {"gpkg", "postgresql", "postgres"}
    with pytest.raises(TypeError):
        BUILTIN_SCHEMES["mem"] = lambda: MemoryStore  # type: ignore[index]


def test_unknown_and_missing_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "entry_points", _entry_points())
    known = r"unknown store scheme 'nope' in 'nope://x'; known: gpkg, postgres, postgresql$"
    with pytest.raises(ValidationError, match=known):
        open_store("nope://x", Settings())
    with pytest.raises(ValidationError, match="has no scheme"):
        open_store("/tmp/file.gpkg", Settings())


def test_entry_point_store_is_opened_and_migrated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "entry_points", _entry_points(("mem", f"{__name__}:MemoryStore")))
    OPENED.clear()
    store = open_store("mem://one", Settings())
    assert isinstance(store, MemoryStore) and OPENED == ["mem://one"]
    assert isinstance(open_store("mem://two", Settings(), migrate=False), MemoryStore) and OPENED == ["mem://one"]
    with pytest.raises(ValidationError, match=r"known: gpkg, mem, postgres, postgresql$"):
        open_store("nope://x", Settings())


def test_entry_point_cannot_replace_a_builtin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(factory, "entry_points", _entry_points(("gpkg", f"{__name__}:MemoryStore")))
    assert isinstance(open_store(f"gpkg://{tmp_path / 'a.gpkg'}", Settings()), GeoPackageStore)


def test_geopackage_user_never_loads_psycopg(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from gridmap.config import Settings\n"
        "from gridmap.store import open_store\n"
        f"open_store('gpkg://{tmp_path / 'p.gpkg'}', Settings()).read('areas')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'gridmap.store.postgis'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
