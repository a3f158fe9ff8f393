"""``gridmap field import-points``: a CSV into a GeoPackage store, and a bad file refused with exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.store.factory import open_store
from tests.field.conftest import points_csv
from tests.tracking import world


def test_import_points_command(tmp_path: Path) -> None:
    url = f"gpkg://{tmp_path / 's.gpkg'}"
    store = open_store(url, Settings(store_url=url))
    world.populate_store(store)
    store.close()
    csv = points_csv(tmp_path / "points.csv")
    result = CliRunner().invoke(cli, ["field", "import-points", str(csv), "--store", url])
    assert result.exit_code == 0, result.output
    assert "Imported 3 inspection points" in result.output and "3 added, 0 replaced" in result.output
    again = CliRunner().invoke(cli, ["field", "import-points", str(csv), "--store", url])
    assert "0 added, 3 replaced" in again.output
    store = open_store(url, Settings(store_url=url))
    assert store.count(schema.INSPECTION_POINTS) == 3
    store.close()
    bad = tmp_path / "bad.csv"
    bad.write_text("point_id,name,lon,lat,interval_days\nq,x,114.301,35.741,zero\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["field", "import-points", str(bad), "--store", url])
    assert result.exit_code == 2 and "interval_days 'zero' must be a whole number" in result.output
