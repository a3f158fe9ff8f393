"""multipart/form-data bodies parsed with python-multipart instead of werkzeug's own parser.

Why: a check-in is a form with a 300 KB photo, and in a burst of check-ins werkzeug's parser was a
quarter of the server's time holding the GIL (py-spy ``--gil``, 2 processes of 16 threads): it
compiles two regular expressions for every request's random boundary and copies the body through
a bytearray buffer. python-multipart (the parser of Starlette and FastAPI) scans for the boundary
with ``bytes.find`` and hands out slices: 0.3 ms for that body where werkzeug takes 1.1 ms.

Everything around the parsing stays werkzeug's, so a request reads the same as before:

* text parts go into ``request.form`` decoded by werkzeug's charset rule (UTF-8 unless the part
  names ASCII or ISO-8859-1; undecodable bytes replaced), parts with a ``filename`` into ``request.files`` as
  :class:`~werkzeug.datastructures.FileStorage` written to the request's ``stream_factory``;
  ``Content-Disposition`` is read by werkzeug's ``parse_options_header`` (``filename*`` too);
* Flask's ``MAX_FORM_MEMORY_SIZE`` (a text part larger than that) and ``MAX_FORM_PARTS`` (more
  parts than that) raise 413, as werkzeug does;
* a body that is not valid multipart (no boundary, a missing end, a part without
  ``Content-Disposition``, a part header that is not UTF-8) is a
  ``ValueError``, which werkzeug's ``FormDataParser.parse`` turns into an empty form, as it does
  for its own parser's errors.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from flask import Request
from python_multipart.multipart import MultipartParser
from werkzeug.datastructures import FileStorage, Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.formparser import MultiPartParser as MultiPartParser_
from werkzeug.http import parse_options_header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

#: Bytes read from the request body per call, as werkzeug's own parser reads.
CHUNK_BYTES = 64 * 1024


class _Part:
    """The part being read: its headers so far, then either a text buffer or a file container."""

    def __init__(self) -> None:
        self.header_items: list[tuple[str, str]] = []
        self.field = bytearray()
        self.value = bytearray()
        self.name = ""
        self.filename: str | None = None
        self.headers = Headers()
        self.text = bytearray()
        self.container: IO[bytes] | None = None


class _Collector:
    """python-multipart callbacks that build werkzeug's (form, files) pairs under Flask's limits."""

    def __init__(self, parser: FormDataParser, total_length: int | None) -> None:
        self.parser = parser
        self.total_length = total_length
        self.form: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self.parts = 0
        self.part = _Part()
        self.ended = False
        self.charset_of = MultiPartParser_().get_part_charset  # werkzeug's own rule (UTF-8 or a safe few)

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end, "on_end": self.end}  # fmt: skip

    def part_begin(self) -> None:
        self.parts += 1
        limit = self.parser.max_form_parts
        if limit is not None and self.parts > limit:
            raise RequestEntityTooLarge()
        self.part = _Part()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.value += data[start:end]

    def header_end(self) -> None:
        part = self.part
        # UTF-8, as werkzeug reads part headers (browsers send a Chinese filename as raw UTF-8)
        part.header_items.append((part.field.decode().strip(" \t"), part.value.decode().strip(" \t")))
        part.field, part.value = bytearray(), bytearray()

    def headers_finished(self) -> None:
        part = self.part
        part.headers = Headers(part.header_items)
        if "Content-Disposition" not in part.headers:
            raise ValueError("a multipart/form-data part without a Content-Disposition header")
        _, options = parse_options_header(part.headers["Content-Disposition"])
        part.name = options.get("name", "")
        part.filename = options.get("filename")
        if part.filename is not None:
            declared = part.headers.get("Content-Length")
            part.container = self.parser.stream_factory(
                total_content_length=self.total_length,
                content_type=part.headers.get("Content-Type"),
                filename=part.filename,
                content_length=int(declared) if declared and declared.isdigit() else None,
            )

    def part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part.container is not None:
            part.container.write(data[start:end])
            return
        part.text += data[start:end]
        limit = self.parser.max_form_memory_size
        if limit is not None and len(part.text) > limit:
            raise RequestEntityTooLarge()

    def part_end(self) -> None:
        part = self.part
        if part.container is not None:
            part.container.seek(0)
            storage = FileStorage(part.container, part.filename, part.name, headers=part.headers)
            self.files.append((part.name, storage))
            return
        self.form.append((part.name, part.text.decode(self.charset_of(part.headers), "replace")))

    def end(self) -> None:
        self.ended = True


class FastFormDataParser(FormDataParser):
    """werkzeug's FormDataParser with multipart bodies read by python-multipart (see the module doc)."""

    def _parse_multipart(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> tuple[IO[bytes], Any, Any]:  # fmt: skip
        boundary = options.get("boundary", "").encode("latin-1")
        if not boundary:
            raise ValueError("multipart/form-data without a boundary")
        collector = _Collector(self, content_length)
        parser = MultipartParser(boundary, collector.callbacks())
        while chunk := stream.read(CHUNK_BYTES):
            parser.write(chunk)
        parser.finalize()
        if not collector.ended:
            raise ValueError("multipart/form-data body ends before its closing boundary")
        return stream, self.cls(collector.form), self.cls(collector.files)


class PortalRequest(Request):
    """The portal's request class: Flask's, with the faster multipart parser."""

    form_data_parser_class = FastFormDataParser
