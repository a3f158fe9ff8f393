"""Compressed static assets (Brotli, zstd, gzip by the client's Accept-Encoding) through Flask-Compress.

Why: the field page's first load on a 3G phone link (1.6 Mbit/s, 300 ms round trips; issue 15
item 8) is mostly Leaflet (147 KB of JavaScript, 43 KB once compressed), and every map page carries
the same library. Compression saves about 0.5 s of that first load.

Why only ``/static``: pages and API answers carry a CSRF token or personal data next to text the
caller chose (a search term, a filter), which is the setting of the BREACH attack on compressed
HTTPS responses. Static files are public and hold no secret, so they are safe to compress; the
bulky data answers (vector tiles, OGC pages) have their own paging and simplification.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_compress import Compress

#: Endpoints whose responses are compressed (Flask's built-in static file view).
COMPRESSED_ENDPOINTS = frozenset({"static"})


def init_compression(app: Flask) -> None:
    """Register a compressor for static files; every other response passes through untouched."""
    app.config.update(
        COMPRESS_REGISTER=False,  # no app-wide hook: only the endpoints above (see the module docstring)
        COMPRESS_ALGORITHM=["br", "zstd", "gzip"],
        COMPRESS_BR_LEVEL=5,  # Leaflet: 41 KB in 3.6 ms here (level 11: 37 KB in 184 ms, per request)
    )
    compressor = Compress(app)

    def compress_static(response: Response) -> Response:
        if request.endpoint in COMPRESSED_ENDPOINTS:
            compressible = response.mimetype in compressor.compress_mimetypes_set
            if compressible and response.is_streamed and response.status_code == 200:
                # send_file streams; read the file into the response so gzip (not offered for streams) and
                # the Content-Length work for every client. The largest such file here is a 400 KB font.
                response.direct_passthrough = False
                response.make_sequence()
            return compressor.after_request(response)
        return response

    app.after_request(compress_static)
