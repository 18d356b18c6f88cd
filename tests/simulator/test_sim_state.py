"""The state model without HTTP: clock, progression, money, refills, cancels, subscriptions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smmpanel.simulator.clock import SimClock
from smmpanel.simulator.config import SimulatorConfig
from smmpanel.simulator.faults import FaultRule
from smmpanel.simulator.state import SimState
from smmpanel.simulator.validation import ApiError

LINK = "https://instagram.com/p/abc"


def make(**options: object) -> SimState:
    options.setdefault("manual_clock", True)
    return SimState(SimulatorConfig(**options))  # type: ignore[arg-type]


def place(state: SimState, service: int = 1, quantity: int = 1000, **params: str) -> int:
    return state.add({"service": str(service), "link": LINK, "quantity": str(quantity), **params})


def test_clock_manual_only_moves_when_advanced() -> None:
    clock = SimClock(manual=True)
    assert clock.now() == 0.0
    assert clock.advance(12.5) == 12.5
    assert clock.now() == 12.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.wall(60) - clock.wall(0) == __import__("datetime").timedelta(seconds=60)


def test_clock_real_time_is_scaled() -> None:
    clock = SimClock(scale=1000.0)
    first = clock.now()
    __import__("time").sleep(0.01)
    assert clock.now() - first >= 5.0  # 10 ms x 1000


def test_order_moves_pending_in_progress_completed() -> None:
    state = make(speed=10)
    oid = place(state, quantity=1000)
    view = state.status(oid)
    assert view is not None
    assert (view.status, view.remains, view.start_count) == ("Pending", 1000, 0)
    assert view.charge == Decimal("0.90000")
    state.advance(10)
    view = state.status(oid)
    assert view is not None and view.status == "In progress"
    assert 100 <= view.start_count <= 10000
    assert view.remains == 1000
    state.advance(2.5)
    view = state.status(oid)
    assert view is not None and (view.status, view.remains) == ("In progress", 750)
    state.advance(5)
    view = state.status(oid)
    assert view is not None and view.remains == 250
    state.advance(2.5)
    view = state.status(oid)
    assert view is not None and (view.status, view.remains) == ("Completed", 0)
    assert state.balance == Decimal("999.10000")


def test_start_count_is_deterministic_per_seed() -> None:
    counts = []
    for _ in range(2):
        state = make(seed=7)
        oid = place(state)
        state.advance(15)
        view = state.status(oid)
        assert view is not None
        counts.append(view.start_count)
    assert counts[0] == counts[1]


def test_speed_zero_completes_at_once() -> None:
    state = make(speed=0)
    view = state.status(place(state))
    assert view is not None and view.status == "Completed"


def test_real_time_clock_drives_progress() -> None:
    state = SimState(SimulatorConfig(speed=1.0, time_scale=1000.0))
    oid = place(state)
    __import__("time").sleep(0.01)
    view = state.status(oid)
    assert view is not None and view.status == "Completed"


def test_lazy_and_eager_progress_agree() -> None:
    lazy, eager = make(), make()
    for state in (lazy, eager):
        for _ in range(5):
            place(state)
    lazy.clock.advance(13)
    eager.advance(13)
    assert [lazy.status(i) for i in range(1, 6)] == [eager.status(i) for i in range(1, 6)]


def test_charge_is_rounded_half_up_to_five_places() -> None:
    state = make()
    # service 5: rate 0.0123 per 1000; 150 units -> 0.001845 -> 0.00185 (half up)
    oid = place(state, service=5, quantity=150)
    view = state.status(oid)
    assert view is not None and view.charge == Decimal("0.00185")


def test_not_enough_funds_and_balance_charged() -> None:
    state = make(balance=Decimal("1.00"))
    with pytest.raises(ApiError) as error:
        place(state, quantity=2000)  # 1.80
    assert error.value.message == "Not enough funds on balance"
    assert state.balance == Decimal("1.00")
    place(state, quantity=1000)
    assert state.balance == Decimal("0.10000")
    assert len(state.orders) == 1


def test_partial_outcome_refunds_remains() -> None:
    state = make()
    oid = state.add(
        {"service": "1", "link": LINK, "quantity": "1000"},
        outcome=FaultRule("partial", fraction=0.25),
    )
    state.advance(20)
    view = state.status(oid)
    assert view is not None and (view.status, view.remains) == ("Partial", 250)
    assert view.charge == Decimal("0.67500")  # 0.9 - 250 * 0.9 / 1000
    assert state.balance == Decimal("999.32500")
    state.advance(100)
    assert state.balance == Decimal("999.32500")  # refunded exactly once


def test_cancel_outcome_refunds_everything() -> None:
    state = make()
    oid = state.add({"service": "1", "link": LINK, "quantity": "1000"}, outcome=FaultRule("cancel"))
    state.advance(10)
    view = state.status(oid)
    assert view is not None and (view.status, view.remains) == ("Canceled", 1000)
    assert view.charge == Decimal("0.00000")
    assert state.balance == Decimal("1000")


def test_cancel_before_completion_cancels_the_order() -> None:
    state = make(speed=10, cancel_delay=5)
    oid = place(state)
    state.advance(3)
    cancel_id = state.cancel(oid)
    assert state.cancel_status(cancel_id) == "Pending"
    state.advance(5)
    assert state.cancel_status(cancel_id) == "Completed"
    view = state.status(oid)
    assert view is not None and view.status == "Canceled"
    assert state.balance == Decimal("1000")


def test_cancel_after_completion_is_rejected() -> None:
    state = make(speed=10, cancel_delay=10)
    oid = place(state)
    state.advance(15)  # In progress; completes at 20, cancel resolves at 25
    cancel_id = state.cancel(oid)
    state.advance(10)
    assert state.cancel_status(cancel_id) == "Rejected"
    view = state.status(oid)
    assert view is not None and view.status == "Completed"


def test_events_apply_in_time_order_even_when_read_late() -> None:
    state = make(speed=10, cancel_delay=4)
    oid = place(state)
    state.advance(18)
    cancel_id = state.cancel(oid)  # resolves at 22, the order completes at 20
    state.clock.advance(100)
    assert state.cancel_status(cancel_id) == "Rejected"


def test_refill_moves_through_statuses() -> None:
    state = make(speed=10, refill_speed=4)
    oid = place(state)
    with pytest.raises(ApiError) as error:
        state.refill(oid)
    assert error.value.message == "Order not eligible for refill"
    state.advance(20)
    refill_id = state.refill(oid)
    assert state.refill_status(refill_id) == "Pending"
    with pytest.raises(ApiError) as error:
        state.refill(oid)
    assert error.value.message == "Refill request was sent earlier"
    state.advance(4)
    assert state.refill_status(refill_id) == "In progress"
    state.advance(4)
    assert state.refill_status(refill_id) == "Completed"
    assert state.refill(oid) == refill_id + 1


def test_refill_and_cancel_disabled() -> None:
    state = make(speed=0)
    oid = place(state, service=4, quantity=100)  # no refill, no cancel
    with pytest.raises(ApiError, match="Refill is disabled for this service"):
        state.refill(oid)
    with pytest.raises(ApiError, match="Cancel is disabled for this service"):
        state.cancel(oid)


def test_dripfeed_is_one_order_of_quantity_times_runs() -> None:
    state = make()
    oid = place(state, quantity=100, runs="5", interval="10")
    order = state.orders[oid]
    assert (order.kind, order.quantity) == ("dripfeed", 500)
    assert order.params == {"runs": "5", "interval": "10"}
    assert state.balance == Decimal("999.55000")
    state.advance(20)
    view = state.status(oid)
    assert view is not None and view.status == "Completed"


def test_request_id_returns_the_first_order() -> None:
    state = make()
    first = state.add({"service": "1", "link": LINK, "quantity": "100"}, request_id="r-1")
    again = state.add({"service": "1", "link": LINK, "quantity": "100"}, request_id="r-1")
    other = state.add({"service": "1", "link": LINK, "quantity": "100"}, request_id="r-2")
    assert first == again != other
    assert state.orders[first].add_requests == 2
    assert len(state.orders) == 2
    assert state.balance == Decimal("999.82000")


def test_duplicate_link_rejected_when_configured() -> None:
    state = make(reject_duplicate_links=True, speed=10)
    place(state)
    with pytest.raises(ApiError) as error:
        place(state)
    assert error.value.message == (
        "You have active order with this link. Please wait until order being completed."
    )
    place(state, service=2)  # another service is fine
    state.advance(20)
    place(state)  # the first one is completed now


def subscribe(state: SimState, **params: str) -> int:
    base = {"service": "21", "username": "alice", "min": "100", "max": "200"}
    return state.add({**base, **params})


def test_subscription_creates_child_orders_up_to_posts() -> None:
    state = make(speed=10, subscription_interval=60)
    sid = subscribe(state, posts="3")
    view = state.status(sid)
    assert view is not None and (view.status, view.children) == ("In progress", [])
    state.advance(60)
    view = state.status(sid)
    assert view is not None and view.children == [2]
    state.advance(120)
    view = state.status(sid)
    assert view is not None and view.status == "Completed"
    assert view.children == [2, 3, 4]
    children = [state.orders[c] for c in view.children]
    assert all(100 <= c.quantity <= 200 and c.parent == sid for c in children)
    assert [c.created for c in children] == [60.0, 120.0, 180.0]
    assert view.charge == sum(c.charge for c in children)
    assert state.balance == Decimal(1000) - view.charge
    state.advance(600)
    view = state.status(sid)
    assert view is not None and len(view.children or []) == 3


def test_subscription_delay_old_posts_and_unlimited_cap() -> None:
    state = make(subscription_interval=60, subscription_unlimited_posts=4)
    sid = subscribe(state, delay="5", old_posts="2")
    assert len(state.orders[sid].children) == 2
    state.advance(60)
    assert len(state.orders[sid].children) == 2  # the first new post comes at 300 + 60
    state.advance(300)
    assert len(state.orders[sid].children) == 3
    state.advance(10_000)
    view = state.status(sid)
    assert view is not None and view.status == "In progress"
    assert len(view.children or []) == 6  # 2 old + the cap of 4 new


def test_subscription_cancel_stops_it() -> None:
    state = make(subscription_interval=60, cancel_delay=5)
    sid = subscribe(state)
    state.advance(60)
    cancel_id = state.cancel(sid)
    state.advance(5)
    assert state.cancel_status(cancel_id) == "Completed"
    state.advance(600)
    view = state.status(sid)
    assert view is not None and view.status == "Canceled"
    assert view.children == [2]


def test_subscription_expiry_completes_it() -> None:
    state = make(subscription_interval=3600)
    yesterday = state.clock.wall(-86400).strftime("%d/%m/%Y")
    sid = subscribe(state, expiry=yesterday)
    view = state.status(sid)
    assert view is not None and view.status == "Completed"
    assert view.children == []


def test_subscription_post_skipped_when_funds_run_out() -> None:
    state = make(subscription_interval=60, balance=Decimal("0.01"))
    sid = subscribe(state, posts="2")
    state.advance(120)
    order = state.orders[sid]
    assert order.children == [] and order.skipped_posts == 2
    assert order.status == "Completed"


def test_forced_status_freezes_and_settles_money() -> None:
    state = make()
    oid = place(state)
    state.set_order(oid, status="Partial", remains=400, start_count=55)
    state.advance(100)
    view = state.status(oid)
    assert view is not None
    assert (view.status, view.remains, view.start_count) == ("Partial", 400, 55)
    assert state.balance == Decimal("999.46000")
    state.set_order(oid, status="Completed")
    assert state.balance == Decimal("999.10000")
    with pytest.raises(KeyError):
        state.set_order(999, status="Completed")


def test_catalog_changes() -> None:
    state = make()
    state.update_service(1, rate="2.5", min=10)
    assert state.catalog[1].rate == Decimal("2.5") and state.catalog[1].min == 10
    state.remove_service(2)
    with pytest.raises(ApiError, match="Incorrect service ID"):
        place(state, service=2)
    state.reset_catalog()
    assert state.catalog[1].rate == Decimal("0.90") and 2 in state.catalog


def test_records_filters() -> None:
    state = make()
    place(state)
    state.add({"service": "1", "link": "https://other", "quantity": "100"}, request_id="x")
    assert [r["id"] for r in state.records(link=LINK)] == [1]
    assert [r["id"] for r in state.records(request_id="x")] == [2]
    assert state.orders_per_link() == {LINK: 1, "https://other": 1}


def test_ten_thousand_orders_in_process_are_fast() -> None:
    import time

    state = make(balance=Decimal(10**9))
    started = time.perf_counter()
    for n in range(10_000):
        state.add({"service": "2", "link": f"https://l/{n}", "quantity": "10"})
    state.advance(15)
    ids = list(range(1, 10_001))
    for start in range(0, 10_000, 100):
        views = state.statuses(list(ids[start : start + 100]))
        assert all(v is not None and v.status == "In progress" for v in views)
    assert time.perf_counter() - started < 10
