"""Worker photos for the public: ``GET /photos/<name>`` and the photo URLs in lookup answers.

The lookup index keeps ``photo`` as stored (a file name or a URL: the grid card needs the file);
:func:`with_public_photos` turns it into what a browser can load (``/photos/<name>`` or the URL) just
before an answer leaves the portal, so no server path is ever shown. Name checks live in
:mod:`gridmap.photos`. Photos are public (R-22: the worker's photo is on the grid sign anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, send_file

from gridmap.errors import NotFoundError
from gridmap.portal.state import portal_state
from gridmap.services.photos import photo_dir_from_settings, photo_file_in, public_photo_url

bp = Blueprint("photos", __name__)
#: Browsers may keep a photo this long (seconds); a replaced photo should get a new file name.
PHOTO_MAX_AGE_S = 86_400
_PHOTO_DIR_KEY = "gridmap.photo_dir"


def photo_dir() -> Path | None:
    """This app's photo folder (from its Settings), resolved once."""
    ext = current_app.extensions
    if _PHOTO_DIR_KEY not in ext:
        ext[_PHOTO_DIR_KEY] = photo_dir_from_settings(portal_state().settings)
    found = ext[_PHOTO_DIR_KEY]
    return found if isinstance(found, Path) else None


def _public_person(person: Any, folder: Path | None) -> Any:
    if not isinstance(person, Mapping) or "photo" not in person:
        return person
    return {**person, "photo": public_photo_url(person["photo"], photo_dir=folder, check_file=True)}


def with_public_photos(body: dict[str, Any]) -> dict[str, Any]:
    """A lookup answer (or an address answer holding one in ``result``) with browser-ready photo URLs."""
    folder = photo_dir()
    out = dict(body)
    if isinstance(out.get("workers"), list):
        out["workers"] = [_public_person(w, folder) for w in out["workers"]]
    if "leader" in out:
        out["leader"] = _public_person(out["leader"], folder)
    if isinstance(out.get("result"), dict):
        out["result"] = with_public_photos(out["result"])
    return out


@bp.get("/photos/<path:name>")
def photo(name: str) -> Response:
    """One photo file from the photo folder; 404 for anything else (unsafe name, other file type, missing)."""
    folder = photo_dir()
    found = None if folder is None else photo_file_in(folder, name)
    if found is None:
        raise NotFoundError(f"no photo {name!r}")
    response = send_file(found, max_age=PHOTO_MAX_AGE_S)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
