"""Incidents (事件): Open311 intake and the seven-step closed loop (七步闭环), without Flask or click.

Modules:

* ``categories``: incident categories = Open311 services, deadlines per level, the escalation ladder;
* ``policy``: everything configurable (categories, duplicate radius/days, card rules, score weights),
  from ``Settings.incidents_config`` (TOML/JSON) or ``Settings.extra["incidents"]``;
* ``workflow``: statuses, actions and the table of legal moves with their roles and area scopes;
  ``transitions``: what each move changes; ``escalation``: deadlines, the sweep and red/yellow cards;
* ``intake``: checks of a new report (and of an action request) before anything is stored;
* ``duplicates``: open look-alikes nearby (metres in the working CRS); ``assessment``: metrics and the
  100-point score; ``open311``: GeoReport v2 shapes in JSON and XML;
* ``query`` / ``writes``: the hot paths in SQL (listings, a report with its first event);
  ``timer``: the in-server escalation thread.

The use cases (report, act, escalate, list) are in :mod:`gridmap.services.incidents`; the HTTP side in
``gridmap.portal.incidents.open311`` (``/open311/v2``), ``incidents_api`` (``/api/v1/incidents``) and
``incidents_pages``; the CLI in ``gridmap.cli.incidents`` (``gridmap tokens``, ``gridmap escalate``).

May import the core, ``gridmap.analysis`` and the ``Store`` protocol type; never services or
the faces (they use ``gridmap.services.incidents``).
"""
