"""Worker positions read back over HTTP (issue 12), as a Traccar Client / OsmAnd phone and a
command-centre system would do it: fixes go to ``/osmand`` on a live portal (waitress, real
sockets, ``requests``), the key comes from the real ``gridmap tokens create`` command, and
``GET /api/v1/workers/positions`` returns the newest position of each worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner

from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.portal.app import close_app
from gridmap.portal.server import make_server, stop_server
from gridmap.store.base import Store
from tests.tracking import world


@pytest.fixture
def portal(world_store: Store, settings: Settings) -> Iterator[str]:
    server, app = make_server(settings.replace(secret_key="positions-live"), host="127.0.0.1", port=0, workers=4,
                              store=world_store)  # fmt: skip
    thread = threading.Thread(target=server.run, name="positions-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        close_app(app)
        stop_server(server)
        thread.join(timeout=10)


def cli_token(store: Store, role: str, area: str) -> str:
    result = CliRunner().invoke(cli, ["tokens", "create", "--role", role, "--area", area, "--label", "centre",
                                      "--store", str(store.url)])  # type: ignore[attr-defined]  # fmt: skip
    assert result.exit_code == 0, result.output
    key = result.output.splitlines()[0].strip()
    assert key.startswith("gm_"), result.output
    return key


def test_fixes_posted_to_osmand_are_read_back_through_the_api(portal: str, world_store: Store) -> None:
    now = datetime.now(UTC)
    a_old, a_new, b = world.inside(world.A, 0.2, 0.3), world.inside(world.A, 0.7, 0.6), world.inside(world.B)
    # Traccar Client: GET with query parameters; OsmAnd: POST form fields
    first = requests.get(f"{portal}/osmand", params={"id": "dev-a", "lat": a_old[1], "lon": a_old[0],
                                                     "timestamp": (now - timedelta(minutes=3)).isoformat()},
                         timeout=10)  # fmt: skip
    second = requests.post(f"{portal}/osmand", data={"id": "dev-a", "lat": a_new[1], "lon": a_new[0],
                                                     "timestamp": int((now - timedelta(minutes=1)).timestamp()),
                                                     "accuracy": 8, "batt": 71}, timeout=10)  # fmt: skip
    third = requests.get(f"{portal}/osmand", params={"id": "dev-b", "lat": b[1], "lon": b[0]}, timeout=10)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert requests.get(f"{portal}/osmand", params={"id": "ghost", "lat": 35.7, "lon": 114.3}, timeout=10
                        ).status_code == 404  # fmt: skip

    key = cli_token(world_store, "command", "410611001001")
    answer = requests.get(f"{portal}/api/v1/workers/positions", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/geo+json")
    features = {f["properties"]["worker_id"]: f for f in answer.json()["features"]}
    assert sorted(features) == ["w-a", "w-b"]  # one feature per worker: the newest fix
    assert features["w-a"]["geometry"]["coordinates"] == pytest.approx(list(a_new))
    assert features["w-b"]["geometry"]["coordinates"] == pytest.approx(list(b))
    assert features["w-a"]["properties"]["grid_code"] == world.A
    assert features["w-a"]["properties"]["state"] == "inside"
    assert requests.get(f"{portal}/api/v1/workers/positions", timeout=10).status_code == 401
    wrong = requests.get(f"{portal}/api/v1/workers/positions", headers={"Authorization": "Bearer gm_bad_key"},
                         timeout=10)  # fmt: skip
    assert wrong.status_code == 401
