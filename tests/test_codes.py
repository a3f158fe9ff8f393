import numpy as np
import pytest

from gridmap.codes import (
    chinese_ordinal,
    grid_code,
    grid_name,
    level_of_code,
    parent_code_of,
    reading_order,
    validate_code,
)
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel


def test_levels_from_length():
    assert level_of_code("410611") is AreaLevel.DISTRICT
    assert level_of_code("410611001") is AreaLevel.STREET
    assert level_of_code("410611001002") is AreaLevel.COMMUNITY
    assert level_of_code("410611001002003") is AreaLevel.GRID
    assert parent_code_of("410611001002003") == "410611001002"
    assert parent_code_of("410611") is None


@pytest.mark.parametrize("bad", ["41061", "4106110011", "41061a", "", "410611001002003004"])
def test_malformed_codes_are_rejected(bad):
    with pytest.raises(ValidationError):
        level_of_code(bad)


def test_code_must_extend_parent_and_match_level():
    validate_code("410611001002", AreaLevel.COMMUNITY, "410611001")
    with pytest.raises(ValidationError, match="does not start with its parent"):
        validate_code("410612001002", AreaLevel.COMMUNITY, "410611001")
    with pytest.raises(ValidationError, match="street code"):
        validate_code("410611001", AreaLevel.COMMUNITY)
    with pytest.raises(ValidationError, match="000"):
        validate_code("410611001000", AreaLevel.COMMUNITY)


def test_grid_codes_and_names():
    assert grid_code("410611001002", 7) == "410611001002007"
    with pytest.raises(ValidationError):
        grid_code("410611001002", 1000)
    assert [chinese_ordinal(i) for i in (1, 10, 12, 20, 21, 100, 105, 110)] == [
        "一", "十", "十二", "二十", "二十一", "一百", "一百零五", "一百一十"]
    assert grid_name("黎阳社区", 3) == "黎阳社区第三网格"


def test_reading_order_west_east_then_north_south():
    # a 3 x 2 layout: row y=10 (north) then y=0 (south); x increasing within a row
    x = [20, 0, 10, 0, 20, 10]
    y = [0, 10, 10, 0, 10, 0]
    order = reading_order(x, y, row_height=5)
    assert [(x[i], y[i]) for i in order] == [(0, 10), (10, 10), (20, 10), (0, 0), (10, 0), (20, 0)]
    # deterministic with ties and jitter smaller than a row
    rng = np.random.default_rng(1)
    jitter = rng.uniform(-1, 1, 6)
    order2 = reading_order(np.array(x, float), np.array(y, float) + jitter, row_height=5)
    assert list(order2) == list(order)


def test_provisional_codes_are_refused_everywhere_but_the_what_if_partition() -> None:
    from gridmap.codes import PROVISIONAL_COMMUNITY_CODE, grid_code, is_provisional

    assert grid_code(PROVISIONAL_COMMUNITY_CODE, 7) == "000000000000007" and is_provisional("000000000000007")
    for code, level in (("000000000000007", AreaLevel.GRID), (PROVISIONAL_COMMUNITY_CODE, AreaLevel.COMMUNITY)):
        with pytest.raises(ValidationError, match="provisional code of a what-if partition"):
            validate_code(code, level)
