"""Static assets go out compressed for clients that ask; pages and API answers never do (BREACH)."""

from __future__ import annotations

import gzip

import brotli
import pytest
from flask.testing import FlaskClient

from gridmap.portal.maps.assets import web_root

LEAFLET = "/static/vendor/leaflet-1.9.3/leaflet.js"
EVERY_CODING = "gzip, deflate, br, zstd"


def _original() -> bytes:
    return (web_root() / "static" / "vendor" / "leaflet-1.9.3" / "leaflet.js").read_bytes()


def test_a_browser_gets_leaflet_brotli_compressed_to_under_a_third(client: FlaskClient) -> None:
    response = client.get(LEAFLET, headers={"Accept-Encoding": EVERY_CODING})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in response.headers["Vary"]
    body = response.get_data()
    assert len(body) < len(_original()) / 3
    assert brotli.decompress(body) == _original()


def test_a_gzip_only_client_gets_gzip_and_a_plain_client_the_file_as_is(client: FlaskClient) -> None:
    zipped = client.get(LEAFLET, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(zipped.get_data()) < len(_original()) / 3
    assert gzip.decompress(zipped.get_data()) == _original()
    plain = client.get(LEAFLET)
    assert "Content-Encoding" not in plain.headers
    assert plain.get_data() == _original()


def test_the_compressed_etag_revalidates_to_304(client: FlaskClient) -> None:
    first = client.get(LEAFLET, headers={"Accept-Encoding": "br"})
    etag = first.headers["ETag"]
    assert etag.endswith(':br"')
    again = client.get(LEAFLET, headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/areas"])
def test_pages_and_api_answers_are_not_compressed(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept-Encoding": EVERY_CODING})
    assert response.status_code < 500
    assert len(response.get_data()) > 500  # big enough that a compressor would have taken it
    assert "Content-Encoding" not in response.headers
