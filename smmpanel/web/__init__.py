"""The customer web: server-rendered pages beside /api/v2 (docs/web.md).

A thin edge: routes parse forms, call the same domain functions as the API and
the command line, and render templates; no business rule lives here.
"""
