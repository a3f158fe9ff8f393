"""The default partition strategy: contiguous regions whose households fall in the band.

Works on the abstract atom graph of ``gridmap.partition.problem`` only (no geometry libraries
beyond what the graph carries), so another strategy can replace it behind the same seam.
"""
