"""Evidence photos of check-ins and visits: checked, cleaned of metadata, named by content.

Why clean every photo: a phone's JPEG carries EXIF, often with the GPS position of the worker's
home when the picture was taken earlier, the device serial and the owner's name. Two ways, both
ending in a JPEG with no EXIF, XMP, IPTC or comment:

* an upright JPEG (no EXIF orientation, or orientation 1; what the /field page's canvas resize
  sends) keeps its pixels: its metadata segments are dropped (``jpeg_markers``), whose walk over
  every segment up to EOI proves the file whole. Well under 1 ms instead of 25 ms for a
  1600 x 1200 photo (measured on this two-core machine).
* anything else (PNG, WebP, a rotated JPEG, CMYK) is decoded, turned upright by its EXIF
  orientation and re-encoded by Pillow without ``exif``/``icc``.

The stored name is the SHA-256 of the cleaned bytes, so the same picture uploaded twice (an
offline replay) is one file.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from gridmap.errors import ValidationError
from gridmap.field.jpeg_markers import strip_jpeg_metadata

#: Formats accepted from phones (Pillow format names); everything is stored as JPEG.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "MPO"})
#: Refuse pictures larger than this many pixels before decoding them (decompression bombs).
MAX_PIXELS = 40_000_000
#: JPEG quality of the stored copy (the phone already resized it to field_photo_max_px).
JPEG_QUALITY = 85
#: EXIF tag of the orientation; 1 means the pixels are already upright.
ORIENTATION_TAG = 0x0112
#: JPEG modes kept as they are (a CMYK or YCCK JPEG is converted to RGB by re-encoding).
PLAIN_JPEG_MODES = frozenset({"RGB", "L"})


@dataclass(frozen=True)
class CleanPhoto:
    """A photo ready to store: JPEG bytes without metadata, its content name and size."""

    data: bytes
    sha256: str
    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.sha256}.jpg"

    def describe(self) -> dict[str, object]:
        """What the check-in row records about the photo."""
        return {"name": self.name, "sha256": self.sha256, "bytes": len(self.data), "width": self.width,
                "height": self.height}


def clean_photo(raw: bytes, *, filename: str, max_bytes: int) -> CleanPhoto:
    """Check ``raw`` is an image within ``max_bytes`` and return it re-encoded without EXIF/GPS.

    Raises ValidationError (400) naming the file for an empty or oversize upload and for anything
    that is not a JPEG, PNG or WebP picture.
    """
    if not raw:
        raise ValidationError(f"photo {filename!r} is empty", code="photo_invalid")
    if len(raw) > max_bytes:
        raise ValidationError(f"photo {filename!r} is {len(raw) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB",
                              code="photo_too_large", details={"bytes": len(raw), "max_bytes": max_bytes})
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            fmt = probe.format or ""
            if fmt not in ACCEPTED_FORMATS:
                raise ValidationError(f"photo {filename!r} is {fmt or 'not an image'}; send a JPEG, PNG or WebP",
                                      code="photo_invalid")
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(f"photo {filename!r} has {probe.width}x{probe.height} pixels; resize it",
                                      code="photo_too_large")
            if fmt in ("JPEG", "MPO") and _upright(probe) and probe.mode in PLAIN_JPEG_MODES:
                return _kept_pixels(probe, raw, filename)
            probe.load()
            upright = ImageOps.exif_transpose(probe)
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        raise ValidationError(f"photo {filename!r} is not a readable image; send a JPEG, PNG or WebP",
                              code="photo_invalid") from None
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY)  # no exif=, no icc_profile=: nothing kept (optimize=True
    # would save ~5 % of bytes for twice the encoding time)
    return _clean(out.getvalue(), rgb.width, rgb.height)


def _upright(probe: Image.Image) -> bool:
    return int(probe.getexif().get(ORIENTATION_TAG, 1) or 1) == 1


def _kept_pixels(probe: Image.Image, raw: bytes, filename: str) -> CleanPhoto:
    """An upright JPEG with its metadata segments dropped; the walk over its segments proves it whole.

    Pillow has read the headers (frame size, components); ``strip_jpeg_metadata`` then walks every
    segment: each length must fit in the file, each scan's entropy-coded data must end in a marker
    and the file must reach EOI, so a truncated upload or a file of something else is refused.
    What it does not do is decode the Huffman data itself: a 1/8-scale decode did that for 3.4 ms
    of CPU per 290 KB photo (a quarter of a check-in's cost on this machine), and bit errors inside
    a complete file do not happen to a picture the page's canvas encoded and HTTP delivered whole.
    """
    width, height = probe.size
    return _clean(strip_jpeg_metadata(raw, filename=filename), width, height)


def _clean(data: bytes, width: int, height: int) -> CleanPhoto:
    return CleanPhoto(data=data, sha256=hashlib.sha256(data).hexdigest(), width=width, height=height)
