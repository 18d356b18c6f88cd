"""The owner's web admin at /admin: staff logins with roles, apart from the
customers' pages (its own session cookie, scoped to /admin)."""
