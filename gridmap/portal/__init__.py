"""The web portal (Flask + Folium): one sub-package per feature, shared parts at this level.

Shared here: ``app`` (the factory, which registers every blueprint), ``state`` (the per-app state in
``app.extensions``, which blueprints read instead of importing ``app``), ``auth``, ``csrf``,
``ratelimit``, ``errors`` (the one place errors become HTTP), ``live`` (server-sent events),
``api``/``apidoc``/``openapi`` (the ``/api/v1`` root and its description) and ``server``.
Features: ``home``, ``account``, ``admin``, ``lookup``, ``incidents``, ``analysis``, ``planner``,
``tracking``, ``gis``, ``field``; texts in ``i18n``, map building in ``maps``.

May import: ``gridmap.services`` for every use case, plus the core types and errors. A test
(``tests/test_layering.py``) lists the few direct domain imports kept, with the reason.
"""
