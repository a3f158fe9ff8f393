"""gridmap.portal.forms: multipart bodies read by python-multipart exactly as werkzeug reads them.

Every body is parsed twice, by Flask's own Request (werkzeug's parser) and by PortalRequest, inside
apps with the same limits, and the results (form items, file names, headers and bytes, or the 413)
must be the same. The bodies are written by hand, so they can be broken on purpose.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask, Request
from werkzeug.exceptions import RequestEntityTooLarge

from gridmap.portal.forms import CHUNK_BYTES, PortalRequest

BOUNDARY = "----gridmapBoundary7MA4YWxkTrZu0gW"
#: Flask's limits, lowered (the text limit stays above the 64 KiB read chunk, as in Flask's default 500 kB:
#: werkzeug's parser holds a whole chunk in the same buffer).
LIMITS = {"MAX_FORM_MEMORY_SIZE": 100_000, "MAX_FORM_PARTS": 12}


def part(name: str, value: bytes, *, filename: str | None = None, headers: str = "") -> bytes:
    """One part, its Content-Disposition written as a browser writes it (raw UTF-8 names)."""
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{headers}\r\n").encode() + value + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def parsed(request_class: type[Request], data: bytes, content_type: str | None = None) -> Any:
    """(form items, files as (field, filename, content type, headers, bytes)), or the 413 raised."""
    app = Flask(__name__)
    app.config.update(LIMITS)
    app.request_class = request_class
    content_type = content_type or f"multipart/form-data; boundary={BOUNDARY}"
    with app.test_request_context("/", method="POST", data=data, content_type=content_type):
        from flask import request

        assert type(request._get_current_object()) is request_class  # type: ignore[attr-defined]
        try:
            form = list(request.form.items(multi=True))
            files = [(field, f.filename, f.content_type, list(f.headers.items()), f.read())
                     for field, f in request.files.items(multi=True)]  # fmt: skip
        except RequestEntityTooLarge:
            return "413"
        return form, files


def assert_same(data: bytes, content_type: str | None = None) -> Any:
    ours = parsed(PortalRequest, data, content_type)
    assert ours == parsed(Request, data, content_type)
    return ours


PHOTO = os.urandom(300_000) + f"\r\n--{BOUNDARY[:-3]}\r\n--\r".encode() + os.urandom(1000)  # a near-boundary inside


def test_a_check_in_form_with_a_photo_reads_the_same() -> None:
    data = body(part("id", b"0b6f3c1e-3c52-4d5c-9a55-6f0f5d1f0c11"), part("point_id", b"p-01"),
                part("lon", b"114.3"), part("lat", b"35.7"), part("note", "楼道堆物已清理".encode()),
                part("photo", PHOTO, filename="现场.jpg", headers="Content-Type: image/jpeg\r\n"))  # fmt: skip
    form, files = assert_same(data)
    assert dict(form)["note"] == "楼道堆物已清理" and dict(form)["point_id"] == "p-01"
    assert [(f[0], f[1], f[2], f[4]) for f in files] == [("photo", "现场.jpg", "image/jpeg", PHOTO)]


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 200, CHUNK_BYTES - 40, CHUNK_BYTES - 1, CHUNK_BYTES,
                                  CHUNK_BYTES + 7, 2 * CHUNK_BYTES - 45])  # fmt: skip
def test_a_boundary_across_a_read_chunk_reads_the_same(size: int) -> None:
    payload = os.urandom(size)
    form, files = assert_same(body(part("a", b"1"), part("photo", payload, filename="x.jpg"), part("b", b"2")))
    assert form == [("a", "1"), ("b", "2")] and files[0][4] == payload


def test_repeated_names_empty_files_charsets_and_rfc2231_filenames_read_the_same() -> None:
    data = body(part("photo", b"first", filename="a.jpg"), part("photo", b"", filename=""),
                part("photo", b"third", filename="c.png", headers="Content-Type: image/png\r\n"),
                part("tag", b"x"), part("tag", b""), part("gbk", "网格".encode("gbk"),
                headers="Content-Type: text/plain; charset=gbk\r\n"),
                part("bad", b"\xff\xfe ok"),
                b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"f\"; "
                b"filename*=UTF-8''%E7%BD%91%E6%A0%BC.jpg\r\n\r\nstar\r\n")  # fmt: skip
    form, files = assert_same(data)
    assert ("gbk", "网格".encode("gbk").decode("utf-8", "replace")) in form  # werkzeug reads GBK as UTF-8
    assert ("tag", "") in form and ("bad", "\ufffd\ufffd ok") in form
    assert [(f[0], f[1], f[4]) for f in files] == [("photo", "a.jpg", b"first"), ("photo", "", b""),
                                                   ("photo", "c.png", b"third"), ("f", "网格.jpg", b"star")]


@pytest.mark.parametrize("data, content_type", [
    (body(part("a", b"1"), part("photo", PHOTO, filename="p.jpg"))[:150_000], None),  # cut off mid-photo
    (body(part("a", b"1"))[:-4], None),                                               # no closing boundary
    (body(part("a", b"1")), "multipart/form-data"),                                    # no boundary parameter
    (f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(), None),  # no disposition
    (f"--{BOUNDARY}\r\n".encode() + b"Content-Disposition: form-data; name=\"\xff\"\r\n\r\nx\r\n"
     + f"--{BOUNDARY}--\r\n".encode(), None),                                          # header not UTF-8
])  # fmt: skip
def test_a_broken_body_is_an_empty_form_on_both(data: bytes, content_type: str | None) -> None:
    assert assert_same(data, content_type) == ([], [])


def test_the_form_limits_are_413_on_both() -> None:
    assert assert_same(body(part("note", b"x" * (LIMITS["MAX_FORM_MEMORY_SIZE"] + 1)))) == "413"
    assert assert_same(body(*[part(f"k{i}", b"v") for i in range(LIMITS["MAX_FORM_PARTS"] + 1)])) == "413"
    # a file part is not held to the text limit, and exactly the allowed number of parts is fine
    form, files = assert_same(body(part("photo", b"y" * 500_000, filename="big.jpg"),
                                   *[part(f"k{i}", b"v") for i in range(LIMITS["MAX_FORM_PARTS"] - 1)]))  # fmt: skip
    assert len(files[0][4]) == 500_000 and len(form) == LIMITS["MAX_FORM_PARTS"] - 1


def test_the_portal_app_reads_forms_with_the_fast_parser(app: Flask) -> None:
    assert app.request_class is PortalRequest
    with app.test_request_context("/", method="POST", data=body(part("a", "网格".encode())),
                                  content_type=f"multipart/form-data; boundary={BOUNDARY}"):  # fmt: skip
        from flask import request

        assert request.form["a"] == "网格"
