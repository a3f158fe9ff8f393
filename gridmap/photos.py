"""Worker photos (网格员照片): where the files live and what the public is shown instead of a path.

The ``photo`` column of the workers layer holds either an ``http(s)://`` URL or a file name relative
to the photo folder (``Settings.photo_dir``; by default a ``photos`` folder beside a GeoPackage store).
The portal serves that folder at ``/photos/<name>`` and the printed grid card reads it from disk.

Why names are checked here: a photo name comes from an imported roster, so it is untrusted. Only a
plain relative path to an image file inside the folder is ever opened or turned into a URL; an
absolute path elsewhere, ``..``, or another file type gives None, so neither a server path nor a
file outside the folder can reach a resident.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import quote

from gridmap.config import Settings

#: File types the portal serves as photos (lower-case suffixes).
PHOTO_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})
#: URL prefix of the photo route (gridmap.portal.lookup.photos).
PHOTO_URL_PREFIX = "/photos/"
#: The folder name used beside a GeoPackage store when ``Settings.photo_dir`` is empty.
DEFAULT_FOLDER = "photos"


def photo_dir_from_settings(settings: Settings) -> Path | None:
    """The photo folder: ``settings.photo_dir``, else ``photos/`` beside a GeoPackage store, else None."""
    if settings.photo_dir:
        return Path(settings.photo_dir)
    if settings.store_url.startswith("gpkg://"):
        from gridmap.store.gpkg import path_from_url

        return path_from_url(settings.store_url).parent / DEFAULT_FOLDER
    return None


def safe_photo_name(name: str) -> str | None:
    """``name`` as a clean relative POSIX path to an image file, or None when it is not one.

    Refused: empty names, absolute paths, ``..`` or ``.`` segments, backslashes, NUL and control
    characters, and suffixes outside :data:`PHOTO_SUFFIXES`.
    """
    if not name or "\\" in name or any(ord(ch) < 32 for ch in name):
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        return None
    if path.suffix.lower() not in PHOTO_SUFFIXES:
        return None
    return str(path)


def photo_file_in(photo_dir: Path, name: str) -> Path | None:
    """The existing image file ``photo_dir/name``, or None (unsafe name, missing file, outside the folder)."""
    clean = safe_photo_name(name)
    if clean is None:
        return None
    root = photo_dir.resolve()
    candidate = (root / clean).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None  # a symlink pointing out of the folder is refused too
    return candidate


def relative_photo_name(photo: str, photo_dir: Path | None) -> str | None:
    """The name of ``photo`` relative to the folder (an absolute path inside it counts), or None."""
    path = Path(photo)
    if path.is_absolute():
        if photo_dir is None:
            return None
        try:
            photo = path.resolve().relative_to(photo_dir.resolve()).as_posix()
        except ValueError:
            return None
    return safe_photo_name(photo)


def public_photo_url(photo: str | None, *, photo_dir: Path | None, check_file: bool = False) -> str | None:
    """What a browser gets for a stored ``photo``: an http(s) URL as is, a file as ``/photos/<name>``.

    None when there is no photo, no photo folder, or the value is not a safe image name (the page
    then shows its placeholder). With ``check_file`` also None when the file is not in the folder (a
    roster may name photos not delivered yet), so the page never asks for a file that would answer
    404; that costs one ``stat``. Without it the route answers 404 and the page falls back.
    """
    if not photo:
        return None
    if photo.startswith(("http://", "https://")):
        return photo
    if photo_dir is None:
        return None
    name = relative_photo_name(photo, photo_dir)
    if name is None or (check_file and photo_file_in(photo_dir, name) is None):
        return None
    return PHOTO_URL_PREFIX + quote(name)
