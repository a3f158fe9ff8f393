"""Rate limits: a token bucket per (rule, client IP), kept in ``app.extensions`` and safe across threads.

Why in-app and not a proxy module: the portal often runs alone (waitress on a district office
server) and one process serves every thread, so one dict under one lock is enough and needs no
Redis. With ``gridmap serve --processes N`` each process tells the others every token it hands out
(gridmap.portal.peers), so the buckets agree within a message's delay (well under a millisecond on
one machine); separate servers behind a load balancer still limit separately.

Rules (``Settings``, 0 switches a rule off):

* ``login``: POST /login, ``rate_limit_login_per_min`` attempts per IP per minute (burst the same).
  Slows password guessing; the per-IP key means one abusive client cannot lock others out.
* ``read``: anonymous GET/HEAD, ``rate_limit_public_read_per_s`` per IP (burst 2 s worth). Generous on
  purpose: many residents share one carrier-grade NAT address.
* ``write``: anonymous POST/PUT/PATCH/DELETE (Open311 reports, batch lookups),
  ``rate_limit_public_write_per_min`` per IP.

Signed-in sessions and API tokens are not limited here: they are accountable (audit log) and a
token can be revoked. A request with bad credentials counts as anonymous. Static files are free.
Over the limit: ``RateLimitedError`` (429, mapped by ``gridmap.portal.errors``) with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from gridmap.config import Settings
from gridmap.errors import AuthenticationError, RateLimitedError
from gridmap.portal.auth import client_ip, current_principal
from gridmap.portal.peers import Peers

LIMITER_KEY = "gridmap.ratelimit"
RULE_ATTR = "_gridmap_rate_rule"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Buckets kept at most; the least recently used go first (a client that comes back starts full).
MAX_BUCKETS = 100_000

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Rule:
    """``rate_per_s`` tokens flow into a bucket of ``burst`` tokens; each request takes one."""

    name: str
    rate_per_s: float
    burst: float

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError(f"rate rule {self.name}: rate must be > 0 and burst >= 1")


def rules_from_settings(settings: Settings) -> dict[str, Rule]:
    """The active rules (a setting of 0 leaves its rule out)."""
    rules: dict[str, Rule] = {}
    if settings.rate_limit_login_per_min > 0:
        per_min = settings.rate_limit_login_per_min
        rules["login"] = Rule("login", per_min / 60.0, max(1.0, per_min))
    if settings.rate_limit_public_read_per_s > 0:
        per_s = settings.rate_limit_public_read_per_s
        rules["read"] = Rule("read", per_s, max(1.0, 2.0 * per_s))
    if settings.rate_limit_public_write_per_min > 0:
        per_min = settings.rate_limit_public_write_per_min
        rules["write"] = Rule("write", per_min / 60.0, max(1.0, per_min))
    return rules


class RateLimiter:
    """Token buckets keyed by ``(rule, key)``; ``clock`` is injectable so tests need no sleeps."""

    def __init__(
        self, rules: Mapping[str, Rule], *, clock: Callable[[], float] = time.monotonic, max_buckets: int = MAX_BUCKETS
    ) -> None:
        self.rules = dict(rules)
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()  # tokens, updated
        self._lock = threading.Lock()
        #: The other processes of the server: each token taken here is taken there too.
        self.peers = Peers(None)

    def hit(self, rule_name: str, key: str) -> float | None:
        """Take one token; None when allowed, else the seconds until one is available (> 0)."""
        rule = self.rules.get(rule_name)
        if rule is None:
            return None
        now = self._clock()
        bucket_key = (rule_name, key)
        with self._lock:
            tokens, updated = self._buckets.pop(bucket_key, (rule.burst, now))
            tokens = min(rule.burst, tokens + (now - updated) * rule.rate_per_s)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[bucket_key] = (tokens, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / rule.rate_per_s

    def charge(self, rule_name: str, key: str) -> None:
        """Take a token another process of the server gave out (never below 0: that is only a delay)."""
        rule = self.rules.get(rule_name)
        if rule is None:
            return
        now = self._clock()
        bucket_key = (rule_name, key)
        with self._lock:
            tokens, updated = self._buckets.pop(bucket_key, (rule.burst, now))
            tokens = min(rule.burst, tokens + (now - updated) * rule.rate_per_s)
            self._buckets[bucket_key] = (max(0.0, tokens - 1.0), now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)

    def check(self, rule_name: str, key: str) -> None:
        """Raise ``RateLimitedError`` (429) when ``key`` is over ``rule_name``'s limit."""
        wait_s = self.hit(rule_name, key)
        if wait_s is None:
            self.peers.send("rate", {"rule": rule_name, "key": key})
            return
        retry_after = max(1, math.ceil(wait_s))
        g.gridmap_retry_after = retry_after
        raise RateLimitedError(
            f"too many requests ({rule_name}) from {key}; try again in {retry_after} s",
            details={"rule": rule_name, "retry_after_s": retry_after},
        )


def rate_limited(rule_name: str) -> Callable[[F], F]:
    """Mark a view: its unsafe requests (POST...) count against ``rule_name`` instead of ``write``."""

    def decorate(view: F) -> F:
        setattr(view, RULE_ATTR, rule_name)
        return view

    return decorate


def limiter() -> RateLimiter:
    found = current_app.extensions[LIMITER_KEY]
    assert isinstance(found, RateLimiter)
    return found


def _rule_for_request(*, anonymous: bool) -> str | None:
    view = current_app.view_functions.get(request.endpoint or "")
    marked = getattr(view, RULE_ATTR, None)
    if request.method not in SAFE_METHODS and marked:
        return str(marked)
    if not anonymous:
        return None
    return "read" if request.method in SAFE_METHODS else "write"


def _check_request() -> None:
    if request.endpoint == "static":
        return
    try:
        anonymous = current_principal().is_public
    except AuthenticationError:
        rule = _rule_for_request(anonymous=True)
        if rule:
            limiter().check(rule, client_ip())  # bad credentials are anonymous traffic
        raise
    rule = _rule_for_request(anonymous=anonymous)
    if rule:
        limiter().check(rule, client_ip())


def _retry_after(response: Response) -> Response:
    retry_after = g.get("gridmap_retry_after")
    if response.status_code == 429 and retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def init_ratelimit(app: Flask, settings: Settings, *, clock: Callable[[], float] = time.monotonic,
                   peers: Peers | None = None) -> RateLimiter:
    """Install the limiter (one per app) and the hooks that apply it to every request.

    With connected ``peers`` every token taken in one process is taken in all (a client gets the
    configured rate from the whole server, not from each process).
    """
    found = RateLimiter(rules_from_settings(settings), clock=clock)
    if peers is not None and peers.connected:
        found.peers = peers
        peers.on("rate", lambda body: found.charge(str(body["rule"]), str(body["key"])))
    app.extensions[LIMITER_KEY] = found
    app.before_request(_check_request)
    app.after_request(_retry_after)
    return found
