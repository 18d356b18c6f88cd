"""Wrong keys from one address: slowed, then locked out; nobody else notices."""

from __future__ import annotations

import secrets
import time

from smmpanel.db import Database
from tests.factories import make_customer
from tests.ratelimit.conftest import HOUR, assert_too_many, limited_panel, limited_settings

ATTACKER, NEIGHBOUR = "203.0.113.66", "198.51.100.20"
INVALID = {"error": "Invalid API key"}
BALANCE = {"balance": "100.00000", "currency": "USD"}


def test_two_thousand_wrong_keys_are_slowed_then_locked_out(db: Database) -> None:
    """Wrong keys: 5 a second, and 12 within the hour lock the address out for
    the hour.  Of 2,000 wrong keys sent as fast as one client can, 13 are looked
    up (the 13th trips the lockout); every other call is refused before any
    database work.  5-8 s: 2,000 calls over HTTP, and the slowed phase
    waits for its bucket to refill."""
    known, unused = make_customer(db), make_customer(db, "unused")
    settings = limited_settings(
        rate_limit_key="1000/hour",
        rate_limit_ip="5000/hour",
        rate_limit_failed_keys="5/second",
        rate_limit_lockout="12/hour",
    )
    with limited_panel(db, settings) as panel:
        assert panel.call(known.key, ip=ATTACKER).json() == BALANCE  # a key that works
        looked_up, slowed, deadline = 0, [], time.monotonic() + 20
        while True:
            response = panel.call(secrets.token_urlsafe(32), ip=ATTACKER)
            if response.status_code == 200:
                assert response.json() == INVALID
                looked_up += 1
                continue
            wait = assert_too_many(response)
            if wait > 60:
                break  # locked out
            slowed.append(wait)
            assert time.monotonic() < deadline, "never locked out"
            time.sleep(0.02)
        assert looked_up == 13
        assert slowed and set(slowed) == {1}  # until the wrong-key bucket refills
        assert HOUR - 10 <= wait <= HOUR
        sent = looked_up + len(slowed) + 1
        refused = [panel.call(secrets.token_urlsafe(32), ip=ATTACKER) for _ in range(2000 - sent)]
        assert {r.status_code for r in refused} == {429}
        assert all(int(r.headers["retry-after"]) > HOUR - 20 for r in refused)
        # A key that worked lately still does from there; one never seen does not.
        assert panel.call(known.key, ip=ATTACKER).json() == BALANCE
        assert_too_many(panel.call(unused.key, ip=ATTACKER), at_least=HOUR - 20)
        assert_too_many(panel.call("", ip=ATTACKER), at_least=HOUR - 20)
        # Another address never notices: its keys, right or wrong, are looked up.
        assert panel.call(unused.key, ip=NEIGHBOUR).json() == BALANCE
        assert panel.call("wrong", ip=NEIGHBOUR).json() == INVALID


def test_a_slowed_address_is_served_again_after_retry_after(db: Database) -> None:
    customer = make_customer(db)
    settings = limited_settings(rate_limit_failed_keys="3/second", rate_limit_lockout="off")
    with limited_panel(db, settings) as panel:
        # Six calls must fall within one second's window; a busy machine (CI runs
        # four test processes and Chromium on two cores) may spread them over two,
        # where the count starts again: then the windows are let go and it is tried
        # again.  A limiter that never slows anyone still fails below.
        for _ in range(5):
            wrong = [panel.call("wrong", ip=ATTACKER) for _ in range(5)]
            known = panel.call(customer.key, ip=ATTACKER)  # never seen there
            if wrong[-1].status_code == 429 and known.status_code == 429:
                break
            time.sleep(2.5)
        assert [answer.json() for answer in wrong[:4]] == [INVALID] * 4
        wait = assert_too_many(wrong[4], at_most=1)
        assert_too_many(known, at_most=1)
        time.sleep(wait)
        assert panel.call("wrong", ip=ATTACKER).json() == INVALID
        assert panel.call(customer.key, ip=NEIGHBOUR).json() == BALANCE


def test_a_suspended_account_s_key_counts_as_wrong(db: Database) -> None:
    from smmpanel.accounts.service import set_account_options

    customer = make_customer(db)
    settings = limited_settings(rate_limit_failed_keys="2/hour")
    with limited_panel(db, settings) as panel:
        set_account_options(db, username=customer.username, status="suspended")
        assert [panel.call(customer.key).json() for _ in range(3)] == [INVALID] * 3
        assert_too_many(panel.call(customer.key))
