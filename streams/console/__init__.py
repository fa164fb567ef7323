"""The operator console: an aiohttp app that materialises ``alerts`` and lets operators work them.

Modules: ``config`` (ConsoleConfig), ``auth`` (passwords, tokens, sessions, roles), ``materialiser``
(the alerts topic as an in-memory view), ``api`` (HTTP routes), ``openapi`` (the API spec),
``app`` (wiring, CLI). Pages are plain HTML/CSS/JS under ``static/``: nothing loads from the internet.
"""
