"""Building the deterministic demo district (and partitioning it), for ``gridmap demo``.

The generator and its partition run live in ``gridmap.demo``; the CLI reaches them here.
"""

from __future__ import annotations

from gridmap.demo.build import DemoSummary as DemoSummary
from gridmap.demo.build import build_demo as build_demo
from gridmap.demo.build import nonempty_demo_layers as nonempty_demo_layers
from gridmap.demo.build import partition_every_community as partition_every_community
