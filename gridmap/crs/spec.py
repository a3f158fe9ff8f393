"""CRS names: the CrsSpec value type and parse_crs, shared by CLI ``--crs`` and API ``crs=``.

Why a spec instead of a pyproj.CRS: GCJ-02 (AMap/Gaode, Tencent) and BD-09 (Baidu) are not CRSs
pyproj knows; they are non-linear offsets of WGS84. CrsSpec says which of the two worlds a name
belongs to so every caller converts the same way (see gridmap.crs.transform).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING

import pyproj

from gridmap.errors import ValidationError

if TYPE_CHECKING:
    from gridmap.config import Settings


class ChinaOffset(StrEnum):
    """The two Chinese obfuscation offsets of WGS84 (no EPSG code exists for either)."""

    GCJ02 = "gcj02"  # 国测局 "Mars" coordinates: AMap/Gaode, Tencent, Google China
    BD09 = "bd09"  # Baidu: GCJ-02 plus a further rotation/shift


@dataclass(frozen=True)
class CrsSpec:
    """A parsed coordinate system: exactly one of an EPSG code (pyproj) or a Chinese offset system."""

    epsg: int | None = None
    offset: ChinaOffset | None = None

    def __post_init__(self) -> None:
        if (self.epsg is None) == (self.offset is None):
            raise ValidationError(
                f"CrsSpec needs exactly one of epsg / offset, got epsg={self.epsg} offset={self.offset}"
            )

    @property
    def name(self) -> str:
        """Canonical text, accepted back by :func:`parse_crs`: ``EPSG:4326``, ``gcj02``, ``bd09``."""
        return self.offset.value if self.offset is not None else f"EPSG:{self.epsg}"

    @property
    def is_offset(self) -> bool:
        """True for GCJ-02 / BD-09, which pyproj cannot express."""
        return self.offset is not None

    @property
    def is_geographic(self) -> bool:
        """True when coordinates are degrees (lon/lat); GCJ-02 and BD-09 are degrees too."""
        return self.offset is not None or self.to_pyproj().is_geographic

    def to_pyproj(self) -> pyproj.CRS:
        """The pyproj CRS; GCJ-02 / BD-09 have none (convert them with :func:`to_wgs84` first)."""
        if self.epsg is None:
            raise ValidationError(f"{self.name} is not a pyproj CRS; convert it with gridmap.crs.to_wgs84 first")
        return _pyproj_crs(self.epsg)

    def __str__(self) -> str:
        return self.name


WGS84 = CrsSpec(epsg=4326)
CGCS2000 = CrsSpec(epsg=4490)
GCJ02 = CrsSpec(offset=ChinaOffset.GCJ02)
BD09 = CrsSpec(offset=ChinaOffset.BD09)

_ALIASES: dict[str, CrsSpec] = {
    "wgs84": WGS84,
    "wgs1984": WGS84,
    "crs84": WGS84,  # OGC:CRS84 = WGS84 in lon/lat order, the GeoJSON default
    "ogc:crs84": WGS84,
    "urn:ogc:def:crs:ogc:1.3:crs84": WGS84,
    "cgcs2000": CGCS2000,
    "gcj02": GCJ02,
    "bd09": BD09,
    "bd09ll": BD09,  # Baidu's own name for BD-09 lon/lat
}
_EPSG_RE = re.compile(r"^(?:epsg:{1,2}|urn:ogc:def:crs:epsg:[0-9.]*:)?(\d{4,6})$")
ACCEPTED_FORMS = "wgs84, cgcs2000, gcj02, bd09, crs84, EPSG:<code> or a bare EPSG code such as 4547"


@lru_cache(maxsize=128)
def _pyproj_crs(epsg: int) -> pyproj.CRS:
    return pyproj.CRS.from_epsg(epsg)


#: Held while the transformer cache is read or filled, so threads that miss the empty cache at once
#: (a server's first burst) wait for one proj.db search instead of each running their own.
_CACHE_LOCK = threading.Lock()


def transformer_between(epsg_from: int, epsg_to: int) -> pyproj.Transformer:
    """A cached pyproj transformer in x,y (lon/lat, easting/northing) order.

    Cached because building one costs tens of ms of CPU (a proj.db search); pyproj >= 3.1
    transformers are safe to share between threads.
    """
    with _CACHE_LOCK:
        return _cached_transformer(epsg_from, epsg_to)


@lru_cache(maxsize=128)
def _cached_transformer(epsg_from: int, epsg_to: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(_pyproj_crs(epsg_from), _pyproj_crs(epsg_to), always_xy=True)


def parse_crs(text: str | int) -> CrsSpec:
    """Parse a user-supplied CRS name (CLI ``--crs``, API ``crs=``), case- and punctuation-insensitive.

    Accepts ``wgs84``/``WGS-84``, ``cgcs2000``, ``gcj02``/``GCJ-02``, ``bd09``/``BD-09``, ``CRS84``,
    ``EPSG:4326``, ``epsg:32650``, a bare code ``4547`` and the OGC URN ``urn:ogc:def:crs:EPSG::4490``.
    EPSG codes must be horizontal 2D-usable geographic or projected CRSs in the PROJ database.
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValidationError(f"CRS {text!r} is not text; accepted forms: {ACCEPTED_FORMS}")
    raw = str(text).strip().lower()
    squashed = re.sub(r"[\s_\-]", "", raw)
    if squashed in _ALIASES:
        return _ALIASES[squashed]
    match = _EPSG_RE.match(squashed)
    if match is None:
        raise ValidationError(f"unknown CRS {text!r}; accepted forms: {ACCEPTED_FORMS}", details={"crs": str(text)})
    code = int(match.group(1))
    try:
        crs = _pyproj_crs(code)
    except pyproj.exceptions.CRSError:
        raise ValidationError(
            f"unknown CRS {text!r}: EPSG:{code} is not in the PROJ database; accepted forms: {ACCEPTED_FORMS}",
            details={"crs": str(text)},
        ) from None
    if not (crs.is_geographic or crs.is_projected):
        raise ValidationError(
            f"CRS {text!r} (EPSG:{code}, {crs.name}) is neither geographic nor projected; gridmap needs horizontal"
            " x/y coordinates",
            details={"crs": str(text)},
        )
    return CrsSpec(epsg=code)


def as_crs_spec(crs: CrsSpec | str | int) -> CrsSpec:
    """A CrsSpec from a CrsSpec or anything :func:`parse_crs` accepts."""
    return crs if isinstance(crs, CrsSpec) else parse_crs(crs)


def storage_crs(settings: Settings) -> CrsSpec:
    """The CRS every stored layer uses: EPSG:4326 or EPSG:4490 (``settings.storage_epsg``)."""
    if settings.storage_epsg not in (4326, 4490):
        raise ValidationError(f"setting storage_epsg={settings.storage_epsg}: only 4326 (WGS84) or 4490 (CGCS2000)")
    return CrsSpec(epsg=settings.storage_epsg)
