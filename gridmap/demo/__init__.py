"""The deterministic demo district (``gridmap demo``): a synthetic city inside the real outline of 淇滨区.

Everything except the district outline is generated from a seed with an explicit numpy Generator, so
the same seed gives byte-identical layers. See boundaries/README.md and data/README.md for provenance.
"""
