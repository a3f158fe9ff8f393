from __future__ import annotations

import pytest

from gridmap.analysis.lookup import LookupIndex
from tests.lookup import fixtures as fx


@pytest.fixture(scope="module")
def index() -> LookupIndex:
    return LookupIndex.from_frames(
        fx.areas_frame(), fx.grids_frame(), fx.workers_frame(), fx.centres_frame(), generation_key=((1, 2), (2, 2))
    )
