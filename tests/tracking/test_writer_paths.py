"""The two batch writers (Store protocol, and PostGIS's single statement) store exactly the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from gridmap import schema
from gridmap.store.base import Store
from gridmap.tracking.devices import DeviceRegistry, GridLocator
from gridmap.tracking.ingest import Ticket
from gridmap.tracking.pings import Fix
from gridmap.tracking.writer import commit_batch
from tests.tracking import world

pytestmark = pytest.mark.postgis
T0 = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)


class ProtocolOnly:
    """The store without its ``query`` verb: commit_batch then takes the generic Store-protocol path."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "query":
            raise AttributeError(name)
        return getattr(self._store, name)


def batches() -> list[list[tuple[str, str, float, int]]]:
    """(device, grid, fraction, minute): in order, out of order, a re-sent fix, a long excursion."""
    return [
        [("dev-a", world.A, 0.2, 0), ("dev-a", world.B, 0.5, 5), ("dev-b", world.B, 0.5, 1)],
        [("dev-a", world.B, 0.6, 20), ("dev-a", world.A, 0.7, 3), ("dev-b", world.B, 0.5, 1)],  # late + re-sent
        [("dev-a", world.B, 0.8, 36), ("dev-a", world.A, 0.3, 40), ("dev-c", world.D, 0.5, 2)],
    ]


def run(store: Any, settings) -> None:
    registry, locator = DeviceRegistry(store), GridLocator(store)
    for k, batch in enumerate(batches()):
        tickets = [Ticket(Fix(d, *world.inside(g, f), T0 + timedelta(minutes=m)), registry.lookup(d))
                   for d, g, f, m in batch]
        commit_batch(store, settings, tickets, locate=locator.codes, now=T0 + timedelta(hours=k + 1),
                     alert_after=timedelta(minutes=30))


def snapshot(store: Store) -> dict[str, list[tuple]]:
    out = {}
    for layer, key in ((schema.POSITIONS, ["device_id", "fix_time"]), (schema.GEOFENCE_EVENTS, ["worker_id", "at",
                                                                                                 "event"]),
                       (schema.LATEST_POSITIONS, ["device_id"])):
        frame = store.read(layer).drop(columns=[schema.FID, "received_at"], errors="ignore").sort_values(key)
        frame = pd.DataFrame(frame.drop(columns="geometry")).assign(geometry=frame.geometry.to_wkt().to_numpy())
        out[layer] = [tuple(None if (not isinstance(v, list) and pd.isna(v)) else v for v in row)
                      for row in frame.itertuples(index=False)]
    return out


def test_sql_and_protocol_paths_agree(request, settings) -> None:
    from gridmap.store.factory import open_store
    from tests.conftest import _empty_layers

    url = request.getfixturevalue("postgis_store_url")
    results = []
    for wrap in (lambda s: s, ProtocolOnly):
        _empty_layers(url)
        store = open_store(url, settings)
        world.populate_store(store)
        run(wrap(store), settings)
        results.append(snapshot(store))
        store.close()
    sql_path, generic = results
    assert len(sql_path[schema.POSITIONS]) == 8  # 9 fixes sent, one re-sent
    assert [r[3] for r in sql_path[schema.GEOFENCE_EVENTS] if r[0] == "w-a"].count("alert") == 1
    assert sql_path == generic
