"""The coverage certificate: no gap, no overlap, inside the parent, contiguous, in band, buildings whole.

Runs on any grids layer (the engine's result, a written file re-read, a store), whatever produced
it; imports only the core and ``problem``. ``layers`` holds the projected inputs, ``rules`` the
individual checks, ``report`` the certificate and its GeoJSON of problem spots.
"""
