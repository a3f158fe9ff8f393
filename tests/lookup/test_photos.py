"""Worker photos: safe names, the /photos/ route, browser-ready URLs in lookup answers, demo placeholders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from gridmap import schema
from gridmap.config import Settings
from gridmap.demo.photos import PHOTO_SIZE_PX, write_placeholder_photos
from gridmap.photos import photo_dir_from_settings, photo_file_in, public_photo_url, safe_photo_name
from gridmap.portal.app import close_app, create_app
from gridmap.store.gpkg import GeoPackageStore
from tests.lookup import fixtures as fx

A1, A2 = fx.COMM_A + "001", fx.COMM_A + "002"


@pytest.mark.parametrize("name", ["w1.jpg", "team/w2.PNG", "张伟.webp"])
def test_plain_relative_image_names_are_safe(name: str) -> None:
    assert safe_photo_name(name) == name


@pytest.mark.parametrize("name", ["", "../w1.jpg", "a/../../w1.jpg", "/etc/w1.jpg", "./w1.jpg", "a//w1.jpg",
                                  "w1.gpkg", "w1", "a\\w1.jpg", "w1\x00.jpg", "notes.txt"])
def test_traversal_other_types_and_odd_names_are_refused(name: str) -> None:
    assert safe_photo_name(name) is None


def test_files_are_found_only_inside_the_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "photos", tmp_path / "secret.png"
    folder.mkdir()
    (folder / "w1.png").write_bytes(b"png")
    outside.write_bytes(b"png")
    (folder / "link.png").symlink_to(outside)
    assert photo_file_in(folder, "w1.png") == (folder / "w1.png").resolve()
    assert photo_file_in(folder, "missing.png") is None
    assert photo_file_in(folder, "link.png") is None  # a symlink out of the folder
    assert photo_file_in(folder, "../secret.png") is None


def test_public_urls_never_show_a_server_path(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for name in ("w1.jpg", "张 伟.jpg", "team/w2.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"img")
    assert public_photo_url("https://cdn.example/w1.jpg", photo_dir=folder) == "https://cdn.example/w1.jpg"
    assert public_photo_url("w1.jpg", photo_dir=folder) == "/photos/w1.jpg"
    assert public_photo_url("张 伟.jpg", photo_dir=folder) == "/photos/%E5%BC%A0%20%E4%BC%9F.jpg"
    assert public_photo_url(str(folder / "team" / "w2.png"), photo_dir=folder) == "/photos/team/w2.png"
    assert public_photo_url("w9.jpg", photo_dir=folder) == "/photos/w9.jpg"  # not checked: the route says 404
    assert public_photo_url("w9.jpg", photo_dir=folder, check_file=True) is None  # not delivered yet
    assert public_photo_url("w1.jpg", photo_dir=folder, check_file=True) == "/photos/w1.jpg"
    assert public_photo_url("/srv/private/w1.jpg", photo_dir=folder) is None
    assert public_photo_url("w1.jpg", photo_dir=None) is None
    assert public_photo_url(None, photo_dir=folder) is None and public_photo_url("", photo_dir=folder) is None


def test_the_folder_comes_from_settings_or_sits_beside_the_geopackage(tmp_path: Path) -> None:
    assert photo_dir_from_settings(Settings(photo_dir=str(tmp_path / "p"))) == tmp_path / "p"
    assert photo_dir_from_settings(Settings(store_url=f"gpkg://{tmp_path / 'x.gpkg'}")) == tmp_path / "photos"
    assert photo_dir_from_settings(Settings(store_url="postgresql://u@h/db")) is None


@pytest.fixture(scope="module")
def photo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Path]]:
    root = tmp_path_factory.mktemp("photos")
    folder = root / "pictures"
    (folder / "photos").mkdir(parents=True)
    Image.new("RGB", (6, 8), (0, 128, 0)).save(folder / "photos" / "w1.jpg", format="JPEG")  # w1: 张伟, grid A1
    (root / "other.png").write_bytes(b"not for the public")
    settings = Settings(store_url=f"gpkg://{root / 'photos.gpkg'}", secret_key="photo-tests", photo_dir=str(folder),
                        rate_limit_public_read_per_s=0)
    store = GeoPackageStore(settings.store_url, settings)
    store.migrate()
    fx.fill_store(store)
    with store.transaction() as tx:  # w3 (grid A2) points at a file on the server, outside the folder
        tx.update(schema.WORKERS, {"worker_id": "w3"}, {"photo": str(root / "other.png")})
        tx.update(schema.AREAS, {"synthetic": True}, {"synthetic": False})  # as for a real district
    app = create_app(settings, store=store)
    yield app, folder
    close_app(app)
    store.close()


@pytest.fixture
def client(photo_app: tuple[Flask, Path]) -> FlaskClient:
    return photo_app[0].test_client()


def _people(client: FlaskClient, code: str) -> dict[str, str | None]:
    lon, lat = {A1: fx.xy(1, 5), A2: fx.xy(6, 5)}[code]
    body = client.get(f"/api/v1/lookup?lon={lon}&lat={lat}").get_json()
    assert body["grid"]["code"] == code
    return {p["name"]: p["photo"] for p in [body["leader"], *body["workers"]] if p}


def test_lookup_answers_carry_urls_the_portal_serves(client: FlaskClient, photo_app: tuple[Flask, Path]) -> None:
    photos = _people(client, A1)
    assert photos["张伟"] == "/photos/photos/w1.jpg"
    response = client.get(photos["张伟"])
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.data == (photo_app[1] / "photos" / "w1.jpg").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert photos["赵敏"] is None  # named in the roster (photos/w0.jpg), file not there: the page's placeholder
    assert client.get("/photos/photos/w0.jpg").status_code == 404


def test_a_server_path_outside_the_folder_is_neither_shown_nor_served(client: FlaskClient) -> None:
    assert _people(client, A2)["李娜"] is None
    for url in ("/photos/../other.png", "/photos/%2E%2E/other.png", "/photos/../photos.gpkg", "/photos/photos.gpkg"):
        response = client.get(url)
        assert response.status_code == 404 and b"not for the public" not in response.data


def test_address_answers_and_the_resident_page_use_the_same_urls(client: FlaskClient) -> None:
    page = client.get(f"/resident?grid={A1}").get_data(as_text=True)
    assert '"/photos/photos/w1.jpg"' in page and "pictures" not in page
    assert "synthetic-note" not in page  # this store's areas are marked real


def test_demo_placeholders_are_labelled_files_for_synthetic_workers_only(tmp_path: Path) -> None:
    workers = pd.DataFrame({
        "worker_id": ["GW1", "GW2", "REAL", "URL", "BAD"],
        "photo": ["GW1.png", "team/GW2.png", "REAL.png", "https://x.example/u.png", "../BAD.png"],
        "synthetic": [True, True, False, True, True],
    })
    assert write_placeholder_photos(workers, tmp_path) == 2
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == ["GW1.png", "team/GW2.png"]
    with Image.open(tmp_path / "GW1.png") as image:
        assert image.size == PHOTO_SIZE_PX and image.format == "PNG"
        banner = image.convert("RGB").getpixel((2, PHOTO_SIZE_PX[1] - 2))
    assert banner == (0xB7, 0x1C, 0x1C)  # the red SYNTHETIC / DEMO banner
    assert "SYNTHETIC" in (tmp_path / "README.txt").read_text(encoding="utf-8")
    assert write_placeholder_photos(workers, tmp_path) == 0  # existing files are kept
