"""Every text the portal shows, in Simplified Chinese (default) and English, in one place.

``translator`` picks the language of a request and formats dates and numbers (Babel);
``messages_zh``/``messages_en`` hold the shared catalogue, and one catalogue per feature
(``analysis``, ``incidents``, ``planner``, ``tracking``) holds that feature's page texts.
May import only the core and Flask (for the request's language).
"""
