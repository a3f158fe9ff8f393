"""Area and grid codes (统一编码) and the order in which grids are numbered.

Codes follow the Beijing unit-grid rule (DB11) described in standards.md:
``6-digit county (GB/T 2260) + 3-digit street + 3-digit community + 3-digit grid sequence``,
so a district code has 6 digits, a street 9, a community 12 and a grid 15, and every code starts
with its parent's code. Grid sequences are numbered within a community **west to east, then north
to south** (rows of a configurable height, read like a page of text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gridmap.errors import ValidationError
from gridmap.model import AreaLevel

_CODE_RE = re.compile(r"^\d+$")
_CN_DIGITS = "零一二三四五六七八九"


#: The community code of a what-if partition of a boundary that has none yet (drawn in QGIS, say):
#: twelve zeros, so its grids are ``000000000000001``, ``...002``: obviously not a real code (no
#: county is 000000) and refused by every import, so a provisional grid cannot reach a store.
PROVISIONAL_COMMUNITY_CODE = "0" * 12
#: The community name used when the boundary gives none.
PROVISIONAL_COMMUNITY_NAME = "未命名社区"


def is_provisional(code: str) -> bool:
    """True for the provisional community code and the codes of its grids."""
    return isinstance(code, str) and code.startswith(PROVISIONAL_COMMUNITY_CODE)


def level_of_code(code: str) -> AreaLevel:
    """The level a code belongs to, from its length (6/9/12/15 digits)."""
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise ValidationError(f"code {code!r} must be digits only (6, 9, 12 or 15 of them)")
    for level in AreaLevel:
        if len(code) == level.code_length:
            return level
    raise ValidationError(
        f"code {code!r} has {len(code)} digits; expected 6 (district), 9 (street), 12 (community) or 15 (grid)"
    )


def validate_code(code: str, level: AreaLevel, parent_code: str | None = None) -> None:
    """Raise ValidationError unless ``code`` is a well-formed code of ``level`` under ``parent_code``."""
    actual = level_of_code(code)
    if is_provisional(code):
        raise ValidationError(
            f"code {code!r} is the provisional code of a what-if partition (a boundary without a code);"
            " partition again with --code (the real 12-digit community code) before importing its grids"
        )
    if actual is not level:
        raise ValidationError(
            f"code {code!r} is a {actual.value} code ({len(code)} digits) but the feature is a {level.value}"
            f" (needs {level.code_length} digits)"
        )
    if level is AreaLevel.DISTRICT:
        if code[:2] == "00":
            raise ValidationError(f"district code {code!r}: province part 00 does not exist (GB/T 2260)")
        return
    if code.endswith("000"):
        raise ValidationError(f"code {code!r}: the last three digits (sequence) must not be 000")
    if parent_code is not None and not code.startswith(parent_code):
        raise ValidationError(f"code {code!r} does not start with its parent's code {parent_code!r}")


def parent_code_of(code: str) -> str | None:
    """The parent's code (the prefix one level up), or None for a district."""
    level = level_of_code(code)
    parent = level.parent
    return None if parent is None else code[: parent.code_length]


def is_village_code(code: str) -> bool:
    """True when the community part (digits 10-12) of a 12- or 15-digit code is a village (村委会).

    The national statistical division scheme numbers residents' committees (居委会, 社区) 001-199
    and villagers' committees (村委会) 200-399 inside each street/township, so the code alone tells
    an urban community from a village (which has its own household band, P-5).
    """
    return len(code) in (12, 15) and code.isdigit() and 200 <= int(code[9:12]) <= 399


def grid_code(community_code: str, sequence: int) -> str:
    """The 15-digit code of grid number ``sequence`` (1..999) of a community (or of the provisional one)."""
    if community_code != PROVISIONAL_COMMUNITY_CODE:
        validate_code(community_code, AreaLevel.COMMUNITY)
    if not 1 <= sequence <= 999:
        raise ValidationError(f"grid sequence {sequence} is outside 1..999 for community {community_code}")
    return f"{community_code}{sequence:03d}"


def chinese_ordinal(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 20 -> 二十, 105 -> 一百零五 (for names like 第十二网格)."""
    if n <= 0 or n >= 1000:
        return str(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _CN_DIGITS[hundreds] + "百"
        if rest and tens == 0:
            out += "零"
    if tens:
        out += ("" if tens == 1 and not hundreds else _CN_DIGITS[tens]) + "十"
    if ones:
        out += _CN_DIGITS[ones]
    return out


def grid_name(community_name: str, sequence: int) -> str:
    """"{社区}第N网格", the naming of C-4, e.g. 黎阳社区第三网格."""
    return f"{community_name}第{chinese_ordinal(sequence)}网格"


def reading_order(
    x: Sequence[float] | npt.NDArray[np.float64],
    y: Sequence[float] | npt.NDArray[np.float64],
    *,
    row_height: float | None = None,
) -> npt.NDArray[np.int64]:
    """Indices that sort points west to east, then north to south (like reading a page).

    Points are grouped into rows of ``row_height`` (same unit as y; metres in a metric CRS) from
    the north edge down; within a row they are sorted by x. When ``row_height`` is None it is
    the median spacing implied by the point count (extent / sqrt(n)), which gives rows of roughly
    sqrt(n) grids. Ties break by y then input order, so the order is deterministic.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    n = len(xs)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if row_height is None:
        extent = float(ys.max() - ys.min())
        row_height = extent / max(1.0, np.sqrt(n)) if extent > 0 else 1.0
    row = np.floor((ys.max() - ys) / row_height).astype(np.int64)
    # lexsort: last key is primary -> row, then x, then -y, then input index
    order = np.lexsort((np.arange(n), -ys, xs, row))
    return order.astype(np.int64)
