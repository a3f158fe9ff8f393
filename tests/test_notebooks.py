"""The analyst notebooks run top to bottom on demo data and draw their figures.

One small demo district (scale 0.05: 4 communities, grids partitioned and activated, 12 months of
incidents) is built once for the session into a temp GeoPackage and handed to every notebook through
``GRIDMAP_NOTEBOOK_STORE``. Each notebook runs in its own kernel (nbclient) with a time limit; a cell
that raises fails the test with the cell's error. The notebooks' own assertions (reproducible seeds,
totals equal to the store's) run too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gridmap.config import Settings
from gridmap.demo.build import build_demo
from gridmap.services.partitioning import partition_and_activate_all
from gridmap.store.factory import open_store

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: Seconds one cell may take (the whole notebook stays well under a minute on a quiet machine).
CELL_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def demo_store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"gpkg://{tmp_path_factory.mktemp('notebooks') / 'demo.gpkg'}"
    settings = Settings(store_url=url)
    store = open_store(url, settings)
    try:
        build_demo(store, settings, scale=0.05, seed=2024,
                   partition=lambda st, s, _progress: partition_and_activate_all(st, s, seed=0, actor="test"))
    finally:
        store.close()
    yield url


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hotspots.ipynb", "coverage.ipynb", "partition-review.ipynb"])
def test_notebook_runs_and_draws(name: str, demo_store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMAP_NOTEBOOK_STORE", demo_store_url)
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), "commit notebooks clean"
    NotebookClient(book, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    images = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs
              if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert images, f"{name} drew no figure"
    errors = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs
              if o.get("output_type") == "error"]
    assert errors == []
