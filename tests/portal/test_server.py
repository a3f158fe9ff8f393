"""server.serve / make_server and the ``gridmap serve`` command."""

from __future__ import annotations

import json
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.portal import server as server_module
from gridmap.portal.app import close_app
from gridmap.portal.live import DEFAULT_STREAMS, hub, streams_for_threads
from gridmap.portal.server import (
    DEFAULT_WORKERS,
    bound_port,
    is_loopback,
    make_server,
    serve,
    stop_server,
    url_for_host,
)

#: No proxies: a test must reach 127.0.0.1 itself even if http_proxy is set in the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_json(url: str) -> dict:
    with OPENER.open(url, timeout=10) as response:
        return json.loads(response.read())


def test_url_and_loopback_helpers() -> None:
    assert url_for_host("0.0.0.0", 8000) == "http://127.0.0.1:8000/"
    assert url_for_host("::", 80) == "http://[::1]:80/"
    assert url_for_host("10.1.2.3", 9000) == "http://10.1.2.3:9000/"
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_waitress_server_serves_the_app_and_stops(portal_settings: Settings, sample_store) -> None:
    server, _app = make_server(portal_settings, host="127.0.0.1", port=0, workers=2, store=sample_store)
    port = bound_port(server)
    assert port > 0
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    try:
        body = _get_json(f"http://127.0.0.1:{port}/api/v1/health")
        assert body["ok"] is True and body["store"]["backend"] == "gpkg"
    finally:
        stop_server(server)
        runner.join(timeout=10)
    assert not runner.is_alive()


def test_workers_must_be_sensible(portal_settings: Settings) -> None:
    with pytest.raises(ValidationError, match="workers=0"):
        make_server(portal_settings, port=0, workers=0)


def test_live_streams_leave_two_threads_for_pages() -> None:
    assert streams_for_threads(8) == 6 and streams_for_threads(4) == 2
    assert streams_for_threads(2) == 1 and streams_for_threads(1) == 1  # never none at all
    assert streams_for_threads(8, configured=3) == 3  # GRIDMAP_LIVE_MAX_SUBSCRIBERS wins
    assert streams_for_threads(None) == DEFAULT_STREAMS == DEFAULT_WORKERS - 2


@pytest.mark.parametrize(("workers", "configured", "expected"), [(8, 0, 6), (12, 0, 10), (8, 3, 3)])
def test_the_server_hub_admits_threads_minus_two_streams(
    portal_settings: Settings, sample_store, workers: int, configured: int, expected: int
) -> None:
    settings = portal_settings.replace(live_max_subscribers=configured)
    server, app = make_server(settings, port=0, workers=workers, store=sample_store)
    try:
        assert hub(app).max_subscribers == expected
    finally:
        stop_server(server)
        close_app(app)


def test_a_port_in_use_is_a_clear_error_not_a_traceback(portal_settings: Settings, sample_store) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValidationError, match=rf"cannot listen on 127\.0\.0\.1:{port}.*--port") as info:
            make_server(portal_settings, port=port, workers=2, store=sample_store)
    assert info.value.code == "address_in_use"


def test_dev_server_refuses_non_loopback_hosts(portal_settings: Settings) -> None:
    with pytest.raises(ValidationError, match=r"debug server must only listen on 127\.0\.0\.1"):
        serve(portal_settings, host="0.0.0.0", port=0, dev=True)


def test_cli_passes_options_to_serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[Settings, dict]] = []
    monkeypatch.setattr(server_module, "serve", lambda settings, **kw: calls.append((settings, kw)))
    url = f"gpkg://{tmp_path / 'cli.gpkg'}"
    result = CliRunner().invoke(cli, ["serve", "--store", url, "--host", "127.0.0.2", "--port", "8123",
                                      "--workers", "3", "--processes", "2", "--dev"])
    assert result.exit_code == 0, result.output
    (settings, kwargs), = calls
    assert settings.store_url == url
    assert kwargs == {"host": "127.0.0.2", "port": 8123, "workers": 3, "dev": True, "processes": 2}
    bad = CliRunner().invoke(cli, ["serve", "--workers", "0"])
    assert bad.exit_code != 0 and "--workers" in bad.output
    bad = CliRunner().invoke(cli, ["serve", "--processes", "0"])
    assert bad.exit_code != 0 and "--processes" in bad.output


def test_dev_server_runs_one_process(portal_settings: Settings) -> None:
    with pytest.raises(ValidationError, match="--dev serves from one process"):
        serve(portal_settings, port=0, dev=True, processes=2)


def test_gridmap_serve_end_to_end(tmp_path: Path) -> None:
    """A real ``gridmap serve`` process: prints its URL, answers, stops on Ctrl+C (SIGINT)."""
    store = f"gpkg://{tmp_path / 'e2e.gpkg'}"
    proc = subprocess.Popen(  # our own child; stopped below by its pid
        [sys.executable, "-m", "gridmap.cli.main", "serve", "--store", store, "--port", "0", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "GRIDMAP_SECRET_KEY": "e2e"},
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=60), "gridmap serve printed nothing within 60 s"
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        body = _get_json(f"{match.group(0)}api/v1/health")
        assert body["store"]["reachable"] is True
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
