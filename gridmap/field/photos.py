"""Evidence photos of check-ins and visits: checked, cleaned of metadata, named by content.

Why re-encode every photo: a phone's JPEG carries EXIF, often with the GPS position of the worker's
home when the picture was taken earlier, the device serial and the owner's name. Re-encoding the
pixels with Pillow (after applying the EXIF orientation, so the picture still stands upright) and
saving without ``exif``/``icc`` drops all of it. The stored name is the SHA-256 of the cleaned
bytes, so the same picture uploaded twice (an offline replay) is one file.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from gridmap.errors import ValidationError

#: Formats accepted from phones (Pillow format names); everything is stored as JPEG.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "MPO"})
#: Refuse pictures larger than this many pixels before decoding them (decompression bombs).
MAX_PIXELS = 40_000_000
#: JPEG quality of the stored copy (the phone already resized it to field_photo_max_px).
JPEG_QUALITY = 85


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
            probe.load()
            upright = ImageOps.exif_transpose(probe)
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        raise ValidationError(f"photo {filename!r} is not a readable image; send a JPEG, PNG or WebP",
                              code="photo_invalid") from None
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY)  # no exif=, no icc_profile=: nothing kept (optimize=True
    # would save ~5 % of bytes for twice the encoding time, the largest cost of a check-in)
    data = out.getvalue()
    return CleanPhoto(data=data, sha256=hashlib.sha256(data).hexdigest(), width=rgb.width, height=rgb.height)
