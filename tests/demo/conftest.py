"""Fixtures of the demo tests: generated districts (no store) shared by the session.

``full_district`` is the real thing (scale 1, ~1.5 s to generate); ``small_district`` is the
scaled-down variant the store tests build (a few communities, fast).
"""

from __future__ import annotations

import pytest

from gridmap.config import Settings
from gridmap.demo.generate import DemoDistrict, district_from_seed
from gridmap.demo.params import DemoParams

SMALL = {"scale": 0.15, "months": 2}


@pytest.fixture(scope="session")
def full_district() -> DemoDistrict:
    return district_from_seed(DemoParams(seed=2024), Settings())


@pytest.fixture(scope="session")
def small_district() -> DemoDistrict:
    return district_from_seed(DemoParams(seed=2024, **SMALL), Settings())

