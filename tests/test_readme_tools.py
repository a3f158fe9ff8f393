"""README's "Using gridmap with other tools" runs as written (issue 12 item 7).

The shell block of that section is taken from README.md, each command is run in order in one bash
(``set -euo pipefail``, so any failing command fails the test) with the real tools: GDAL's
``ogrinfo``/``ogr2ogr`` from Debian, ``curl``, and the ``gridmap`` command of this checkout,
against the full demo built by ``gridmap demo`` and a live portal (waitress on a free port). Then
the output of each command is checked: the types and SRS ogrinfo reports, the certificate of the
file partition and of its Gauss-Krüger Shapefile, the redacted public Open311 view against the
staff view, and the Traccar fix read back through the positions API.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
from click.testing import CliRunner

from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.portal.app import close_app
from gridmap.portal.server import make_server, stop_server
from gridmap.store.factory import open_store

README = Path(__file__).parents[1] / "README.md"
SECTION = "## Using gridmap with other tools"
MARK = "@@@ command "


def readme_commands() -> list[str]:
    """The commands of the section's sh block, continuation lines joined, comments dropped."""
    text = README.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    commands: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(pending.strip())
            pending = ""
    assert not pending, f"README command ends with a continuation: {pending!r}"
    return commands


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    db = tmp_path_factory.mktemp("readme") / "demo.gpkg"
    result = CliRunner().invoke(cli, ["demo", "--store", f"gpkg://{db}", "--no-serve"])
    assert result.exit_code == 0, result.output
    settings = Settings(store_url=f"gpkg://{db}", secret_key="readme-tools")
    server, app = make_server(settings, host="127.0.0.1", port=0, workers=4, store=open_store(f"gpkg://{db}", settings))
    thread = threading.Thread(target=server.run, name="readme-portal", daemon=True)
    thread.start()
    try:
        yield db, f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        close_app(app)
        stop_server(server)
        thread.join(timeout=10)


def find(outputs: dict[str, str], start: str) -> str:
    hits = [out for command, out in outputs.items() if command.startswith(start)]
    assert len(hits) == 1, (start, list(outputs))
    return hits[0]


@pytest.mark.slow
def test_every_command_of_the_section_runs_and_does_what_it_says(demo: tuple[Path, str], tmp_path: Path) -> None:
    db, portal = demo
    commands = readme_commands()
    assert len(commands) >= 15 and commands[0].startswith("DB=")
    script = "set -euo pipefail\n" + "".join(f"echo '{MARK}{i}'\n{c}\necho\n" for i, c in enumerate(commands))
    env = {**os.environ, "DB": str(db), "PORTAL": portal, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"README command failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "partially supported" not in run.stderr  # every GeoPackage we write is one Debian's GDAL reads fully
    pieces = re.split(rf"^{re.escape(MARK)}(\d+)$", run.stdout, flags=re.M)[1:]
    outputs = {commands[int(i)]: out.strip() for i, out in zip(pieces[::2], pieces[1::2], strict=True)}
    assert len(outputs) == len(commands)

    ogrinfo = find(outputs, "ogrinfo -so -ro")
    assert "Geometry: Multi Polygon" in ogrinfo and 'ID["EPSG",4326]' in ogrinfo and "IDENTIFIER=网格" in ogrinfo

    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["certificate"]["ok"] is True and report["certificate"]["certified"] == "grids.gpkg as written"
    grid_count = len(pyogrio.read_dataframe(tmp_path / "grids.gpkg"))
    assert grid_count >= 5  # 2,849 households at 300..500 each
    assert find(outputs, "gridmap validate --grids grids.gpkg").splitlines()[1].startswith("PASS: ")
    gk = pyogrio.read_dataframe(tmp_path / "grids_gk.shp")
    assert gk.crs.to_epsg() == 4547 and len(gk) == grid_count and gk.total_bounds[0] > 100_000
    coverage = find(outputs, "gridmap validate --grids grids_gk.shp")
    assert coverage.splitlines()[1].startswith("PASS: ") and "[skip] households_in_band: not checked" in coverage

    services = json.loads(find(outputs, 'curl -sf "$PORTAL/open311/v2/services.json"'))
    assert "sanitation" in [s["service_code"] for s in services]
    posted = json.loads((tmp_path / "posted.json").read_text(encoding="utf-8"))[0]
    public = json.loads(find(outputs, 'curl -sf "$PORTAL/open311/v2/requests.json?service_code=sanitation&status'))
    mine = [r for r in public if r["service_request_id"] == posted["service_request_id"]]
    assert len(mine) == 1 and (mine[0]["lat"], mine[0]["long"]) == (35.743, 114.29)  # ~100 m, not the point
    assert "楼道堆满杂物" not in json.dumps(public, ensure_ascii=False) and "description" not in mine[0]
    staff = json.loads(find(outputs, 'curl -sf -H "Authorization: Bearer $KEY" "$PORTAL/open311'))
    full = [r for r in staff if r["service_request_id"] == posted["service_request_id"]]
    assert full[0]["description"] == "楼道堆满杂物" and (full[0]["lat"], full[0]["long"]) == (35.7432, 114.2905)

    positions = json.loads(find(outputs, 'curl -sf -H "Authorization: Bearer $KEY" "$PORTAL/api/v1/workers'))
    fixes = {f["properties"]["worker_id"]: f for f in positions["features"]}
    assert fixes["GL410611001001"]["geometry"]["coordinates"] == pytest.approx([114.2905, 35.7432])
