"""The heat page's cache: entries expire, a changed incident count recomputes, the oldest entries go first."""

from __future__ import annotations

from gridmap.portal.analysis.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_and_follow_the_stamp():
    clock = Clock()
    cache: TtlCache[int] = TtlCache(ttl_s=60.0, max_entries=2, clock=clock)
    calls: list[str] = []

    def compute(value: int):
        def run() -> int:
            calls.append(str(value))
            return value
        return run

    assert cache.get_or_compute("a", 10, compute(1)) == 1
    assert cache.get_or_compute("a", 10, compute(2)) == 1  # cached
    clock.now = 59.0
    assert cache.get_or_compute("a", 11, compute(3)) == 3  # a new incident: recomputed at once
    clock.now = 120.0
    assert cache.get_or_compute("a", 11, compute(4)) == 4  # older than the TTL
    cache.get_or_compute("b", 11, compute(5))
    cache.get_or_compute("c", 11, compute(6))
    assert len(cache) == 2
    assert cache.get_or_compute("a", 11, compute(7)) == 7  # "a" was the oldest: dropped
    assert calls == ["1", "3", "4", "5", "6", "7"]
