"""The deterministic demo district (``gridmap demo``): a synthetic city inside the real outline of 淇滨区.

Everything except the district outline is generated from a seed with an explicit numpy Generator, so
the same seed gives byte-identical layers. See boundaries/README.md and data/README.md for provenance.

Entry points: ``build.build_demo(store, settings, *, seed, partition, progress, replace, scale, months)``
(everything, into a store), ``generate.district_from_seed(params, settings)`` (base layers in memory),
``people.workers_for_grids(grids, communities, *, rng)``, ``incidents.incidents_for(...)``,
``outline.district_outline()``.

A client of the services (it builds and partitions through ``gridmap.services``), like the CLI;
no Flask, no click.
"""
