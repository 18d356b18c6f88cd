"""The web admin at /admin, section by section."""
