"""Folium previews of a partition result and of a rebalance plan (pure: results in, maps out).

May import folium and the rest of ``gridmap.partition``; never Flask.
"""
