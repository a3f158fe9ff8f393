"""Map building shared by every page: pure Folium builders, styles, basemaps, tiled layers, offline assets.

Pure: frames in, ``folium.Map`` out; no Flask request, no store. May import the core and services' types.
"""
