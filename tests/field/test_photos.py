"""Photo cleaning: upright JPEGs keep their pixels and lose every metadata segment; the rest are re-encoded.

The checks read the stored bytes back with Pillow and, independently, with GDAL's JPEG driver
(``gdalinfo`` lists every EXIF tag it finds as EXIF_* metadata).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from gridmap.errors import ValidationError
from gridmap.field.jpeg_markers import strip_jpeg_metadata
from gridmap.field.photos import clean_photo

MAX = 5_000_000
GPS = {1: "N", 2: (35.0, 44.0, 1.5), 3: "E", 4: (114.0, 18.0, 2.5)}


def phone_jpeg(*, orientation: int = 1, progressive: bool = False, icc: bytes | None = None,
               size: tuple[int, int] = (320, 240)) -> bytes:
    """A textured JPEG with EXIF (make, serial, GPS, orientation), XMP and a comment, as phones write."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0xA431] = "SERIAL-0042"  # BodySerialNumber
    exif[0x0112] = orientation
    exif[0x8825] = GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif, progressive=progressive, comment=b"home of Wang Wei",
               xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">exif:GPSLatitude 35,44.025N</x:xmpmeta>',
               **({"icc_profile": icc} if icc else {}))
    return out.getvalue()


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def test_upright_jpeg_keeps_its_pixels_and_loses_exif_xmp_and_comment() -> None:
    raw = phone_jpeg()
    clean = clean_photo(raw, filename="p.jpg", max_bytes=MAX)
    assert np.array_equal(decoded(clean.data), decoded(raw))  # bit-identical picture, not a re-encode
    assert len(clean.data) < len(raw)
    with Image.open(io.BytesIO(clean.data)) as image:
        assert dict(image.getexif()) == {}
        assert "comment" not in image.info and "xmp" not in image.info
        assert (image.width, image.height) == (clean.width, clean.height) == (320, 240)
    for secret in (b"PhoneMaker", b"SERIAL-0042", b"GPSLatitude", b"Wang Wei", b"Exif\x00\x00"):
        assert secret in raw and secret not in clean.data


def test_progressive_jpeg_is_cleaned_without_a_reencode() -> None:
    raw = phone_jpeg(progressive=True)
    clean = clean_photo(raw, filename="p.jpg", max_bytes=MAX)
    assert np.array_equal(decoded(clean.data), decoded(raw))
    assert b"Exif\x00\x00" not in clean.data


def test_icc_profile_is_kept_for_colour() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    clean = clean_photo(phone_jpeg(icc=icc), filename="p.jpg", max_bytes=MAX)
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.info.get("icc_profile") == icc
        assert dict(image.getexif()) == {}


def test_rotated_jpeg_is_turned_upright_and_reencoded() -> None:
    raw = phone_jpeg(orientation=6)  # 90° clockwise: a portrait photo held sideways
    clean = clean_photo(raw, filename="p.jpg", max_bytes=MAX)
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.size == (240, 320) and dict(image.getexif()) == {}


def test_png_is_reencoded_as_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(out, format="PNG")
    clean = clean_photo(out.getvalue(), filename="p.png", max_bytes=MAX)
    assert clean.data[:2] == b"\xff\xd8" and (clean.width, clean.height) == (40, 30)


def test_trailing_second_picture_is_dropped() -> None:
    raw = phone_jpeg()
    clean = clean_photo(raw + phone_jpeg(size=(64, 48)), filename="mpo.jpg", max_bytes=MAX)
    assert clean.data.endswith(b"\xff\xd9") and clean.data.count(b"\xff\xd8") == 1
    assert np.array_equal(decoded(clean.data), decoded(raw))


@pytest.mark.parametrize("cut", [0.01, 0.5, 0.9, 0.999])
def test_truncated_jpeg_is_refused(cut: float) -> None:
    raw = phone_jpeg()
    with pytest.raises(ValidationError) as info:
        clean_photo(raw[: int(len(raw) * cut)], filename="cut.jpg", max_bytes=MAX)
    assert info.value.code == "photo_invalid" and "cut.jpg" in str(info.value)


def test_a_jpeg_without_its_end_marker_is_refused() -> None:
    raw = phone_jpeg()
    assert raw.endswith(b"\xff\xd9")
    for broken in (raw[:-2], raw[:-1], raw[:-2] + b"\x00\x00"):
        with pytest.raises(ValidationError, match=r"not a well-formed JPEG|not a readable image"):
            clean_photo(broken, filename="end.jpg", max_bytes=MAX)


def test_malformed_segments_are_named() -> None:
    with pytest.raises(ValidationError, match=r"'x\.jpg' is not a well-formed JPEG"):
        strip_jpeg_metadata(b"\xff\xd8\xff\xe1\xff\xff", filename="x.jpg")
    with pytest.raises(ValidationError, match="not a well-formed JPEG"):
        strip_jpeg_metadata(b"GIF89a", filename="x.jpg")


@pytest.mark.skipif(shutil.which("gdalinfo") is None, reason="gdal-bin is installed by make test")
def test_gdal_sees_no_exif_in_the_cleaned_photo(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw.jpg", tmp_path / "clean.jpg"
    raw.write_bytes(phone_jpeg())
    clean.write_bytes(clean_photo(raw.read_bytes(), filename="p.jpg", max_bytes=MAX).data)

    def info(path: Path) -> str:
        return subprocess.run(["gdalinfo", str(path)], check=True, capture_output=True, text=True).stdout

    before, after = info(raw), info(clean)
    assert "EXIF_GPSLatitude" in before and "EXIF_Make=PhoneMaker" in before
    assert "EXIF_" not in after and "Size is 320, 240" in after
