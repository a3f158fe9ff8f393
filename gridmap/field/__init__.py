"""The grid worker's day (issue 15): inspection points, check-ins, home visits and worker logs.

Pure domain logic (no Flask, click or store access): parsing and checking what a phone sends,
distances in metres, photo cleaning, due dates, coverage and the field assessment. The use cases
that read and write the store are in :mod:`gridmap.services.field`.

Who a worker is: a portal account with role ``worker`` is the registry row (``workers``) whose
``worker_id`` equals the account's username. That keeps the link one equality, visible in both
places, with no extra table to keep in sync.

May import the core (and Pillow for photos); never the store, services or the faces.
"""
