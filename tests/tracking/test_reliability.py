"""Reliability: PostGIS is stopped and restarted in the middle of a stream of fixes; nothing is lost.

Three phones send fixes one by one to ``track-listen`` (real HTTP, waitress) as Traccar Client does: a
phone keeps a fix until it gets a 200 and sends it again after any other answer. The test stops the
throwaway cluster's server (``pg_ctl stop -m fast``) once the streams run, starts it again once every
phone has been answered 503 several times, and lets the streams go on. Then, per phone: the set of
fixes stored equals the set it holds acknowledged (each stored once), every fix that got a 503 is
among them, and no answer was anything but 200, 503 or a refused connection. The cluster is this
module's own (the session's shared one must not go away).
"""

from __future__ import annotations

import http.client
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from benchmarks.pgcluster import ClusterUnavailable, PgCluster, start_cluster
from gridmap import schema
from gridmap.config import Settings
from gridmap.portal.server import stop_server
from gridmap.store.factory import open_store
from tests.tracking import world
from tests.tracking.pgrestart import pause_cluster, resume_cluster

pytestmark = [pytest.mark.postgis, pytest.mark.slow]
#: Client-side pause before re-sending a refused fix (Traccar waits too); not used to synchronise.
RESEND_PAUSE_S = 0.05


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    try:
        found = start_cluster()
    except ClusterUnavailable as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"PostGIS is required on CI: {exc}")
        pytest.skip(f"PostGIS not available ({exc})")
    try:
        yield found
    finally:
        found.stop()


@dataclass
class Phone:
    """A client that re-sends each fix until it is acknowledged."""

    port: int
    device: str
    base: datetime
    acked: list[datetime] = field(default_factory=list)
    refused: set[datetime] = field(default_factory=set)
    answers_503: int = 0
    other_status: list[int] = field(default_factory=list)
    progress: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)

    def send(self, at: datetime) -> int:
        lon, lat = world.inside(world.A, 0.1 + (len(self.acked) % 80) / 100, 0.5)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", "/?" + urlencode({"id": self.device, "lat": lat, "lon": lon,
                                                   "timestamp": at.isoformat()}))
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0  # connection refused/reset: the phone just tries again
        finally:
            conn.close()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            at = self.base + timedelta(seconds=i)
            while True:
                status = self.send(at)
                if status == 200:
                    break
                with self.progress:
                    if status == 503:
                        self.refused.add(at)
                        self.answers_503 += 1
                    else:
                        self.other_status.append(status)
                    self.progress.notify_all()
                self.stop.wait(RESEND_PAUSE_S)
            with self.progress:
                self.acked.append(at)
                self.progress.notify_all()
            i += 1

    def wait_for_acks(self, count: int, timeout_s: float = 120.0) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: len(self.acked) >= count, timeout_s), (
                f"{self.device}: only {len(self.acked)} fixes acknowledged, waited for {count}")

    def wait_for_503s(self, count: int, timeout_s: float = 120.0) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.answers_503 >= count, timeout_s), (
                f"{self.device}: {self.answers_503} answers 503 while PostGIS was down, waited for {count}")


def test_postgis_restart_mid_stream_loses_nothing_acknowledged(cluster: PgCluster) -> None:
    from gridmap.services.tracking_listener import make_listener

    url = cluster.create_database(f"track_{uuid.uuid4().hex[:8]}")
    settings = Settings(store_url=url)
    seed = open_store(url, settings)
    world.populate_store(seed)
    seed.close()
    server, service = make_listener(settings, host="127.0.0.1", port=0, threads=6)
    serving = threading.Thread(target=server.run, name="listener", daemon=True)
    serving.start()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    phones = [Phone(port=server.effective_port, device=d, base=base)  # type: ignore[union-attr]
              for d in ("dev-a", "dev-b", "dev-c")]
    senders = [threading.Thread(target=p.run, name=p.device, daemon=True) for p in phones]
    for sender in senders:
        sender.start()
    try:
        for phone in phones:
            phone.wait_for_acks(20)
        options = pause_cluster(cluster)
        try:
            for phone in phones:  # a real outage: every phone is refused several times
                phone.wait_for_503s(5)
        finally:
            resume_cluster(cluster, options)
        for phone in phones:
            phone.wait_for_acks(len(phone.acked) + 20)
    finally:
        for phone in phones:
            phone.stop.set()
        for sender in senders:
            sender.join(120)
        stop_server(server)
        serving.join(10)
        service.close()
        service.store.close()
    check = open_store(url, settings)
    try:
        stored = check.read(schema.POSITIONS, columns=["device_id", "fix_time"])
    finally:
        check.close()
    for phone in phones:
        mine = stored.loc[stored["device_id"] == phone.device, "fix_time"]
        stored_times = {t.to_pydatetime() for t in mine}
        assert len(mine) == len(stored_times)  # once each
        assert stored_times == set(phone.acked), phone.device
        assert phone.refused and phone.refused <= stored_times
        assert set(phone.other_status) <= {0}, phone.other_status  # only 200, 503 or a refused connection
    assert sum(len(p.acked) for p in phones) == len(stored)
