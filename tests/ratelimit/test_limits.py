"""Rate limits on one server process (in-memory buckets): per key, per client IP,
an account's own limit, and the switch."""

from __future__ import annotations

import time

from smmpanel.accounts.service import set_rate_limit
from smmpanel.db import Database
from tests.factories import make_customer
from tests.ratelimit.conftest import assert_too_many, limited_panel, limited_settings
from tests.statements import statements_run

BALANCE = {"balance": "100.00000", "currency": "USD"}


def test_a_key_past_its_limit_gets_429_and_other_keys_do_not(db: Database) -> None:
    alice, bob = make_customer(db), make_customer(db, "bob")
    with limited_panel(db, limited_settings(rate_limit_key="5/hour")) as panel:
        assert panel.statuses(alice.key, 4) == [200] * 4
        assert panel.call(alice.key).json() == BALANCE
        assert_too_many(panel.call(alice.key))
        # The bucket is the key's, wherever the calls come from ...
        assert_too_many(panel.call(alice.key, ip="198.51.100.7"))
        # ... and another key's calls from the same address go ahead.
        assert panel.call(bob.key).json() == BALANCE


def test_an_ip_past_its_limit_gets_429_and_other_ips_do_not(db: Database) -> None:
    alice, bob = make_customer(db), make_customer(db, "bob")
    with limited_panel(db, limited_settings(rate_limit_ip="4/hour")) as panel:
        assert panel.statuses(alice.key, 2) + panel.statuses(bob.key, 2) == [200] * 4
        assert_too_many(panel.call(bob.key))
        # Calls without a key, or a wrong one, count against the address too.
        assert_too_many(panel.call("", ip="203.0.113.1"))
        assert panel.call(bob.key, ip="198.51.100.7").json() == BALANCE
        assert panel.call("nope", ip="198.51.100.8").json() == {"error": "Invalid API key"}


def test_retry_after_is_the_wait_until_the_bucket_has_a_call_again(db: Database) -> None:
    alice = make_customer(db)
    settings = limited_settings(rate_limit_key="2/second", rate_limit_burst_seconds=1)
    with limited_panel(db, settings) as panel:
        deadline = time.monotonic() + 10
        while (response := panel.call(alice.key)).status_code == 200:
            assert time.monotonic() < deadline, "never limited"
        wait = assert_too_many(response, at_most=1)
        time.sleep(wait)
        assert panel.call(alice.key).json() == BALANCE


def test_an_account_s_own_limit_replaces_the_key_and_ip_limits(db: Database) -> None:
    alice, bob, carol = make_customer(db), make_customer(db, "bob"), make_customer(db, "carol")
    set_rate_limit(db, username="alice", rate_limit="off")
    set_rate_limit(db, username="bob", rate_limit="6/hour")
    settings = limited_settings(
        rate_limit_key="3/hour", rate_limit_ip="3/hour", rate_limit_refresh_seconds=0.2
    )
    with limited_panel(db, settings) as panel:
        assert panel.statuses(alice.key, 30) == [200] * 30
        assert panel.statuses(bob.key, 6) == [200] * 6
        assert_too_many(panel.call(bob.key))
        # Neither counted against their address: carol, there by default, has all 3.
        assert panel.statuses(carol.key, 3) == [200] * 3
        assert_too_many(panel.call(carol.key))
        # Back to the default while the server runs: within the refresh time, alice
        # is held to her address's limit (used up by carol) and to the key limit.
        set_rate_limit(db, username="alice", rate_limit="default")
        deadline = time.monotonic() + 10
        while panel.call(alice.key).status_code == 200:
            assert time.monotonic() < deadline, "the change never reached the server"
            time.sleep(0.05)
        assert panel.statuses(alice.key, 3, ip="198.51.100.7") == [200] * 3
        assert_too_many(panel.call(alice.key, ip="198.51.100.7"))


def test_limits_off_serve_every_call(db: Database) -> None:
    alice = make_customer(db)
    settings = limited_settings(rate_limits=False, rate_limit_key="1/hour", rate_limit_ip="1/hour")
    with limited_panel(db, settings) as panel:
        assert panel.statuses(alice.key, 20) == [200] * 20
        assert panel.statuses("wrong", 30) == [200] * 30


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(db: Database) -> None:
    alice = make_customer(db)
    untrusted = limited_settings(rate_limit_ip="3/hour", trusted_proxies="")
    with limited_panel(db, untrusted) as panel:
        # Each call names another address; none is believed: all are 127.0.0.1's.
        answers = [panel.call(alice.key, ip=f"198.51.100.{n}").status_code for n in range(4)]
        assert answers == [200, 200, 200, 429]
    trusted = limited_settings(rate_limit_ip="3/hour", trusted_proxies="10.0.0.0/8, 127.0.0.1")
    with limited_panel(db, trusted) as panel:
        assert panel.statuses(alice.key, 3, ip="198.51.100.1") == [200] * 3
        assert_too_many(panel.call(alice.key, ip="198.51.100.1"))
        # A proxy chain: the client is the last address no trusted proxy added.
        assert panel.call(alice.key, ip="198.51.100.1, 10.1.2.3").status_code == 429
        assert panel.call(alice.key, ip="198.51.100.2, 10.1.2.3").json() == BALANCE


def test_the_accounts_limits_are_read_once_per_refresh_not_per_call(db: Database) -> None:
    alice = make_customer(db)
    set_rate_limit(db, username="alice", rate_limit="1000/s")
    settings = limited_settings(rate_limit_key="5/hour", rate_limit_refresh_seconds=60)
    with statements_run(db.engine) as statements, limited_panel(db, settings) as panel:
        assert panel.statuses(alice.key, 40) == [200] * 40  # her own limit, not 5
    reads = [statement for statement in statements if "rate_limit" in statement]
    assert len(reads) == 1
