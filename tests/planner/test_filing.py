"""Filing (报备): the GeoPackage has grids, community, certificate and generation; the PDF reads back."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pyogrio
import pytest
from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.codes import grid_code
from gridmap.errors import NotFoundError
from gridmap.services.filing import ROWS_PER_PAGE, file_generation
from gridmap.store import open_store
from tests.planner import sample as sm


def _pdf_text(path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (poppler-utils) is missing; scripts/install-sysdeps.sh installs it")
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout  # fmt: skip


def test_filing_package_of_an_active_generation(store, settings, tmp_path):
    sm.seed_community(store)
    gen = sm.activate_layout(store, actor="planner1")
    package = file_generation(store, settings, gen, tmp_path / "out")
    assert package.gpkg.name == f"{sm.COMMUNITY}_g{gen}.gpkg" and package.pdf.exists()
    assert (package.grids, package.households, package.certificate_ok) == (6, 6 * 360, True)

    layers = {name for name, _ in pyogrio.list_layers(package.gpkg)}
    assert layers == {"grids", "community", "certificate", "generation"}
    grids = pyogrio.read_dataframe(package.gpkg, layer="grids")
    stored = store.read(schema.GRIDS, where={"generation_id": gen}).sort_values("code")
    assert grids["code"].tolist() == stored["code"].tolist() == [grid_code(sm.COMMUNITY, s) for s in range(1, 7)]
    assert grids["households"].tolist() == [360] * 6 and grids.crs.to_epsg() == 4326
    assert grids.geometry.geom_equals_exact(stored.geometry.reset_index(drop=True), tolerance=1e-9).all()
    community = pyogrio.read_dataframe(package.gpkg, layer="community")
    assert community["code"].tolist() == [sm.COMMUNITY] and community["name"].tolist() == [sm.COMMUNITY_NAME]
    cert = pyogrio.read_dataframe(package.gpkg, layer="certificate")
    stored_cert = store.read(schema.GENERATIONS, where={"generation_id": gen}).iloc[0]["certificate"]
    assert cert["check"].tolist() == [c["name"] for c in stored_cert["checks"]]
    assert cert["ok"].astype(bool).all()
    meta = pyogrio.read_dataframe(package.gpkg, layer="generation")
    assert meta["generation_id"].tolist() == [gen] and meta["status"].tolist() == ["active"]
    assert meta["created_by"].tolist() == ["planner1"]

    raw = package.pdf.read_bytes()
    assert raw.startswith(b"%PDF") and b"NotoSansCJK" in raw  # the Chinese font is embedded
    assert len(re.findall(rb"/Type /Page\b", raw)) == 3  # cover with map, grid list, certificate
    text = _pdf_text(package.pdf)
    assert f"{sm.COMMUNITY_NAME}网格划分报备表" in text and "总户数 2160 户" in text
    for seq in range(1, 7):
        assert grid_code(sm.COMMUNITY, seq) in text
    assert "覆盖证书" in text and "全覆盖(无缝隙)" in text and "未通过" not in text


def test_long_grid_lists_continue_on_more_pages(store, settings, tmp_path):
    sm.seed_community(store)
    layout = {i + 1: [(c, r)] for i, (c, r) in enumerate((c, r) for r in range(sm.ROWS - 1, -1, -1)
                                                         for c in range(sm.COLS))}  # 24 one-block grids
    gen = sm.activate_layout(store, layout)
    package = file_generation(store, settings, gen, tmp_path)
    pages = len(re.findall(rb"/Type /Page\b", package.pdf.read_bytes()))
    assert pages == 1 + -(-24 // ROWS_PER_PAGE) + 1
    text = _pdf_text(package.pdf)
    assert "未通过" in text  # every one-block grid (90 households) is under the band: the certificate says so


def test_filing_cli(tmp_path, settings):
    url = f"gpkg://{tmp_path / 'f.gpkg'}"
    store = open_store(url, settings)
    sm.seed_community(store)
    gen = sm.activate_layout(store)
    store.close()
    out = CliRunner().invoke(cli, ["filing", "--community", sm.COMMUNITY, "--store", url, "--out",
                                   str(tmp_path / "pkg"), "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["generation_id"] == gen and body["certificate_ok"] is True
    assert (tmp_path / "pkg" / f"{sm.COMMUNITY}_g{gen}.pdf").exists()
    both = CliRunner().invoke(cli, ["filing", "--store", url])
    assert both.exit_code == 2 and "give --generation ID or --community CODE" in both.output
    missing = CliRunner().invoke(cli, ["filing", "--generation", "99", "--store", url])
    assert missing.exit_code == 2 and "generation 99 does not exist" in missing.output


def test_filing_a_missing_generation_names_it(store, settings, tmp_path):
    with pytest.raises(NotFoundError, match="generation 5 does not exist"):
        file_generation(store, settings, 5, tmp_path)
