"""`gridmap lookup` and `gridmap card` through the real command group: JSON out, errors as JSON, card file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.crs import from_wgs84
from gridmap.store.gpkg import GeoPackageStore
from tests.lookup import fixtures as fx

A1 = fx.COMM_A + "001"


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"gpkg://{tmp_path_factory.mktemp('cli')}/cli.gpkg"
    store = GeoPackageStore(url, Settings())
    store.migrate()
    fx.fill_store(store)
    with store.transaction() as tx:
        tx.insert("roads", fx.roads_frame())
    store.close()
    return url


def run(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, json.loads(result.stdout)


def test_lookup_point_prints_json(store_url: str) -> None:
    lon, lat = fx.xy(1, 5)
    code, body = run("lookup", str(lon), str(lat), "--store", store_url)
    assert code == 0
    assert body["ok"] is True
    assert body["grid"]["code"] == A1
    assert body["community"]["name"] == "甲社区"
    assert body["leader"]["name"] == "赵敏"
    assert set(body["workers"][0]) == {"name", "role", "phone", "photo", "duties"}


def test_lookup_with_crs(store_url: str) -> None:
    x, y = from_wgs84(*fx.xy(9, 1), "bd09")
    code, body = run("lookup", str(x), str(y), "--crs", "bd09", "--store", store_url)
    assert (code, body["grid"]["code"]) == (0, fx.COMM_B + "001")


def test_lookup_address(store_url: str) -> None:
    code, body = run("lookup", "--address", "淇河路１２號", "--store", store_url)
    assert code == 0
    assert body["candidates"][0]["label"] == "淇河路12号"
    assert body["candidates"][0]["grid_code"] == A1
    assert body["result"]["grid"]["code"] == A1


@pytest.mark.parametrize(
    ("args", "error_code", "words"),
    [
        (("abc", "35.7"), "validation_error", "lon must be a number"),
        (("114.2",), "validation_error", "LON LAT"),
        (("114.2", "35.7", "--crs", "mars"), "validation_error", "unknown CRS"),
        (("--address", " "), "validation_error", "empty"),
        ((str(fx.xy(1, 5)[1]), str(fx.xy(1, 5)[0])), "swapped_coordinates", "swapped"),
        ((str(fx.xy(18, 3)[0]), str(fx.xy(18, 3)[1])), "not_found", "nearest grid"),
    ],
)
def test_lookup_errors_are_json_with_exit_2(store_url: str, args: tuple[str, ...], error_code: str, words: str) -> None:
    code, body = run("lookup", *args, "--store", store_url)
    assert code == 2
    assert body["ok"] is False
    assert body["error"]["code"] == error_code
    assert words in body["error"]["message"]


def test_card_command_writes_a_png_with_the_right_qr(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "cards" / "a1.png"
    result = CliRunner().invoke(cli, ["card", A1, "--out", str(out), "--store", store_url])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    with Image.open(out) as img:
        texts = [r.text for r in zxingcpp.read_barcodes(img)]
    assert texts == [f"{Settings().public_base_url}/resident?grid={A1}"]


def test_card_command_unknown_grid(store_url: str, tmp_path: Path) -> None:
    args = ["card", fx.COMM_A + "999", "--out", str(tmp_path / "x.pdf"), "--store", store_url]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "999" in result.stderr and "not an active" in result.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_negative_coordinates_are_values_not_options(store_url: str) -> None:
    code, body = run("lookup", "-73.98", "40.75", "--store", store_url)
    assert code == 2
    assert body["error"]["code"] == "not_found"  # New York: parsed as a point, far from every grid
    assert body["error"]["details"]["lon"] == -73.98
