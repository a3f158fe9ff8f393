"""Browser-test harness: headless Debian Chromium driven by Playwright against a live portal.

* One Chromium per session, launched from ``/usr/bin/chromium`` (``executable_path``) with a temp
  user-data-dir and every background-networking feature off; each test gets a fresh page with the
  cookies cleared.
* ``live_server``: ``create_app()`` on a GeoPackage store holding the portal sample hierarchy,
  served by werkzeug on a free loopback port in a background thread.
* ``browser_page``: a page whose every request is intercepted; anything not addressed to
  127.0.0.1 is aborted and recorded, and every ``goto`` (and the test's end) asserts there was
  none. JS errors and console errors (CSP violations land there) fail the test too.
* A screenshot of every test goes to ``test-artifacts/screenshots/<test>.png``.

Skipped only when Chromium is missing and ``CI`` is not set; on CI a missing Chromium fails.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.factory import open_store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
#: Longest wait for one page or one element, milliseconds (Playwright waits on events, not sleeps).
TIMEOUT_MS = 20_000

#: The media type of a vector tile answer (/tiles/...mvt).
MVT = "application/vnd.mapbox-vector-tile"
#: Screen position of a lon/lat on the Folium map (the map is a global named after its div's id).
SCREEN_POINT_JS = """
([lon, lat]) => {
  const map = window[document.querySelector('.folium-map').id];
  const point = map.latLngToContainerPoint([lat, lon]);
  const box = map.getContainer().getBoundingClientRect();
  return {x: box.left + point.x, y: box.top + point.y};
}
"""


def load_portal_sample() -> ModuleType:
    """tests/portal/portal_sample.py, by path: the test folders are not packages."""
    path = REPO / "tests" / "portal" / "portal_sample.py"
    spec = importlib.util.spec_from_file_location("portal_sample_for_browser", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def chromium_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A persistent Chromium context in a temp profile (skips only off CI without Chromium)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {CHROMIUM} is missing: install chromium (scripts/install-sysdeps.sh)")
        pytest.skip(f"{CHROMIUM} not installed (browser tests run wherever it is, and always on CI)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            locale="zh-CN",
            service_workers="block",
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@dataclass
class LiveServer:
    url: str
    settings: Settings
    sample: ModuleType


@contextmanager
def serve_portal(settings: Settings, sample: ModuleType) -> Iterator[LiveServer]:
    """Serve create_app(settings) (store filled with the sample) on a free loopback port."""
    store = open_store(settings.store_url, settings)
    sample.populate_store(store)
    app = create_app(settings, store=store)
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-portal", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://{LOOPBACK}:{server.server_port}", settings=settings, sample=sample)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        close_app(app)
        store.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The portal (basemap none) with the sample hierarchy in a GeoPackage."""
    path = tmp_path_factory.mktemp("browser-store") / "portal.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="browser-tests")
    with serve_portal(settings, load_portal_sample()) as live:
        yield live


@dataclass
class BrowserPage:
    """A Playwright page bound to a live server, recording anything that should not happen.

    ``offline_origins``: origins (tile servers) the page may *try* to reach; those requests are
    aborted as if there were no internet and recorded in ``blocked``, not counted as leaks.
    """

    page: Any
    base_url: str
    test_name: str = "test"
    offline_origins: tuple[str, ...] = ()
    external_requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        """Load ``path`` and assert that no request of the load left 127.0.0.1."""
        response = self.page.goto(self.base_url + path, wait_until="load")
        self.assert_clean()
        return response

    def snapshot(self, label: str) -> Path:
        """Save a screenshot now as ``<test>-<label>.png`` (the fixture also saves one at the end)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.test_name}-{label}.png"
        self.page.screenshot(path=str(path))
        return path

    def assert_clean(self) -> None:
        assert self.external_requests == [], f"requests left {LOOPBACK}: {self.external_requests}"
        assert self.page_errors == [], f"JavaScript errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.dialogs == [], f"unexpected dialogs (script injection?): {self.dialogs}"

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlparse(url).hostname == LOOPBACK:
            route.continue_()
            return
        if url.startswith(self.offline_origins):
            self.blocked.append(url)
        else:
            self.external_requests.append(url)
        route.abort("internetdisconnected")

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        source = str(message.location.get("url", ""))
        if self.offline_origins and source.startswith(self.offline_origins):
            return  # the aborted tile itself: the "fail quietly" we simulate
        self.console_errors.append(message.text)


@contextmanager
def open_page(context: Any, base_url: str, test_name: str, *, offline_origins: tuple[str, ...] = ()
              ) -> Iterator[BrowserPage]:
    """A fresh page (cookies cleared) on ``base_url``; screenshot at the end, then the clean check."""
    context.clear_cookies()
    page = context.new_page()
    wrapped = BrowserPage(page=page, base_url=base_url, test_name=test_name, offline_origins=offline_origins)
    page.route("**/*", wrapped._route)
    page.on("pageerror", lambda exc: wrapped.page_errors.append(str(exc)))
    page.on("console", wrapped._console)

    def on_dialog(dialog: Any) -> None:
        wrapped.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield wrapped
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{test_name}.png"))
        page.close()
    wrapped.assert_clean()


@pytest.fixture
def browser_page(
    chromium_context: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[BrowserPage]:
    """A fresh page whose requests may only go to the live server."""
    with open_page(chromium_context, live_server.url, request.node.name) as page:
        yield page


@pytest.fixture
def portal_server() -> Any:
    """``serve_portal`` for tests that need a portal with other settings (a context manager)."""
    return serve_portal


@pytest.fixture
def page_opener(chromium_context: Any) -> Any:
    """``open_page`` bound to the session's Chromium, for pages on another live server."""
    def opener(base_url: str, test_name: str, *, offline_origins: tuple[str, ...] = ()) -> Any:
        return open_page(chromium_context, base_url, test_name, offline_origins=offline_origins)

    return opener
