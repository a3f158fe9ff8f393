"""Building the deterministic demo district or the synthetic city (and partitioning it), for ``gridmap demo``.

The generators and their partition run live in ``gridmap.demo``; the CLI reaches them here.
"""

from __future__ import annotations

from gridmap.demo.build import DemoSummary as DemoSummary
from gridmap.demo.build import build_demo as build_demo
from gridmap.demo.build import nonempty_demo_layers as nonempty_demo_layers
from gridmap.demo.build import partition_every_community as partition_every_community
from gridmap.demo.city import CityParams as CityParams
from gridmap.demo.city import CitySummary as CitySummary
from gridmap.demo.city import build_city as build_city
