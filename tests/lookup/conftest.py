from __future__ import annotations

import pytest

from gridmap.analysis.lookup import LookupIndex
from tests.lookup import fixtures as fx


@pytest.fixture(scope="module")
def index() -> LookupIndex:
    return LookupIndex.from_frames(
        fx.areas_frame(), fx.grids_frame(), fx.workers_frame(), fx.centres_frame(), generation_key=((1, 2), (2, 2))
    )


@pytest.fixture
def postgis_store(request: pytest.FixtureRequest, settings):  # type: ignore[no-untyped-def]
    """A fresh migrated PostGIS store (copied from the session template), dropped after the test."""
    import uuid

    from gridmap.store.base import open_store

    server = request.getfixturevalue("postgis_server")
    template = request.getfixturevalue("postgis_template")
    name = f"gridmap_lookup_{uuid.uuid4().hex[:12]}"
    pg = open_store(server.create_database(name, template=template), settings)
    try:
        yield pg
    finally:
        pg.close()
        server.drop_database(name)
