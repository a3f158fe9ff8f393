"""Street addresses (road name + house number) for points, from the nearest named road.

Chinese door numbers (门牌号) run along a road from its start, odd on the left and even on the
right. We number every ``DOOR_SPACING_M`` metres, so two gates close together can share a number
(as estate buildings share their estate's gate address).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely

from gridmap.demo.roads import RoadDraft
from gridmap.errors import ValidationError

DOOR_SPACING_M = 30.0


def addresses_for_points(xy: npt.NDArray[np.float64], roads: Sequence[RoadDraft]) -> tuple[list[str], list[str]]:
    """(road names, house numbers like "128号") for points ``xy`` (metres) from the nearest named road."""
    named = [r for r in roads if r.name]
    if not named:
        raise ValidationError("demo addresses: no named road to number the buildings along")
    if len(xy) == 0:
        return [], []
    lines = np.asarray([r.geometry for r in named], dtype=object)
    points = np.asarray(shapely.points(xy), dtype=object)
    tree = shapely.STRtree(lines)
    idx = tree.query_nearest(points, all_matches=False, return_distance=False)
    nearest = np.empty(len(points), dtype=np.int64)
    nearest[idx[0]] = idx[1]
    along = shapely.line_locate_point(lines[nearest], points)
    here = shapely.get_coordinates(shapely.line_interpolate_point(lines[nearest], along))
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(lines[nearest], along + 1.0))
    direction = ahead - here
    offset = xy - here
    left = direction[:, 0] * offset[:, 1] - direction[:, 1] * offset[:, 0] > 0
    base = 2 * np.floor(along / DOOR_SPACING_M).astype(np.int64)
    numbers = np.where(left, base + 1, base + 2)
    names = [str(named[i].name) for i in nearest]
    return names, [f"{n}号" for n in numbers]
