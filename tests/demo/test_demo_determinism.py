"""Same seed, same bytes, also across processes with different hash seeds (no set/dict-order leaks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DIGEST = """
import hashlib
import shapely
from gridmap.config import Settings
from gridmap.demo.build import _people_and_incidents, _Steps
from gridmap.demo.generate import district_from_seed
from gridmap.demo.params import DemoParams

district = district_from_seed(DemoParams(seed=5, scale=0.1, months=1), Settings())
workers, incidents = _people_and_incidents(district, None, _Steps(None, 2))
h = hashlib.sha256()
for frame in [*district.layers().values(), incidents]:
    h.update(b"".join(shapely.to_wkb(frame.geometry.values)))
    h.update(frame.drop(columns="geometry").to_csv().encode())
h.update(workers.to_csv().encode())
print(h.hexdigest())
"""


def _digest(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", DIGEST], capture_output=True, text=True, env=env, check=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=120)
    return out.stdout.strip()


def test_layers_are_identical_across_processes() -> None:
    first, second = _digest("1"), _digest("4242")
    assert len(first) == 64 and first == second
