"""The panel's staff: the owner and the people who help run it (web admin logins
with roles), kept apart from customers' accounts."""
