"""The panel itself: owner settings kept in the database and owner alerts.

The lowest context: every other one may read a setting or raise an alert,
and it imports none of them."""
