"""CGCS2000 3-degree Gauss-Krüger CRSs and the zone-number trap of Chinese survey files.

China's survey offices deliver coordinates in CGCS2000 / 3-degree Gauss-Krüger, in one of two
families that differ only in the easting:

* EPSG:4513-4533, zones 25-45: the zone number is written in front of the easting
  (X = zone * 1,000,000 + 500,000 ± ...; 38,512,345.6 in zone 38);
* EPSG:4534-4554, CM 75°E-135°E: the same projection without the prefix (X = 512,345.6).

A .prj of one family on coordinates of the other is a common mistake; read naively it puts the
community 38,000 km east or makes every check fail. :func:`family_mismatch` names the CRS the
coordinates really are in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: First EPSG code of each family and the zone of that code.
ZONED_FIRST, PLAIN_FIRST, FIRST_ZONE, LAST_ZONE = 4513, 4534, 25, 45
#: False easting of the central meridian (m) and how far a real feature lies from it at most (m).
FALSE_EASTING, MAX_OFFSET = 500_000.0, 400_000.0


@dataclass(frozen=True)
class GaussKruger:
    """One CGCS2000 3-degree Gauss-Krüger CRS: its zone, and whether X carries the zone number."""

    epsg: int
    zone: int
    zone_prefixed: bool

    @property
    def central_meridian(self) -> int:
        return 3 * self.zone

    @property
    def label(self) -> str:
        kind = f"zone {self.zone}, zone number in front of X" if self.zone_prefixed else "no zone number in X"
        return f"EPSG:{self.epsg} (CGCS2000 / 3-degree Gauss-Krüger CM {self.central_meridian}°E, {kind})"


def gauss_kruger(epsg: int | None) -> GaussKruger | None:
    """The GK description of ``epsg``, or None when it is not one of EPSG:4513-4554."""
    if epsg is None:
        return None
    if ZONED_FIRST <= epsg < PLAIN_FIRST:
        return GaussKruger(epsg, FIRST_ZONE + epsg - ZONED_FIRST, True)
    if PLAIN_FIRST <= epsg <= PLAIN_FIRST + LAST_ZONE - FIRST_ZONE:
        return GaussKruger(epsg, FIRST_ZONE + epsg - PLAIN_FIRST, False)
    return None


def of_zone(zone: int, *, zone_prefixed: bool) -> GaussKruger | None:
    """The GK CRS of ``zone`` in the given family (None for a zone outside China's 25-45)."""
    if not FIRST_ZONE <= zone <= LAST_ZONE:
        return None
    first = ZONED_FIRST if zone_prefixed else PLAIN_FIRST
    return GaussKruger(first + zone - FIRST_ZONE, zone, zone_prefixed)


def family_mismatch(declared: GaussKruger, eastings: npt.ArrayLike) -> str | None:
    """Why the eastings cannot be in ``declared`` and which CRS they are in, or None when they fit."""
    x = np.asarray(eastings, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return None
    lo, hi = float(x.min()), float(x.max())
    if declared.zone_prefixed:
        base = declared.zone * 1_000_000
        if abs(lo - base - FALSE_EASTING) <= MAX_OFFSET and abs(hi - base - FALSE_EASTING) <= MAX_OFFSET:
            return None
        if abs(lo - FALSE_EASTING) <= MAX_OFFSET and abs(hi - FALSE_EASTING) <= MAX_OFFSET:
            real = of_zone(declared.zone, zone_prefixed=False)
            return (f"the X coordinates ({lo:,.1f} .. {hi:,.1f}) have no zone number in front, so they are in "
                    f"{real.label if real else 'the family without zone numbers'}")  # fmt: skip
        zone = int(lo // 1_000_000)
        real = of_zone(zone, zone_prefixed=True)
        if real is not None and int(hi // 1_000_000) == zone:
            return f"the X coordinates ({lo:,.1f} .. {hi:,.1f}) start with zone number {zone}: they are in {real.label}"
        return f"the X coordinates ({lo:,.1f} .. {hi:,.1f}) are not eastings of zone {declared.zone}"
    if abs(lo - FALSE_EASTING) <= MAX_OFFSET and abs(hi - FALSE_EASTING) <= MAX_OFFSET:
        return None
    zone = int(lo // 1_000_000)
    real = of_zone(zone, zone_prefixed=True)
    if real is not None and int(hi // 1_000_000) == zone:
        return (f"the X coordinates ({lo:,.1f} .. {hi:,.1f}) start with zone number {zone}: they are in "
                f"{real.label}, not in a CRS without zone numbers")  # fmt: skip
    return f"the X coordinates ({lo:,.1f} .. {hi:,.1f}) are not Gauss-Krüger eastings (expected 100,000 .. 900,000)"


__all__ = ["GaussKruger", "family_mismatch", "gauss_kruger", "of_zone"]
