"""Properties of the state model under random operation sequences (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from smmpanel.simulator.config import SimulatorConfig
from smmpanel.simulator.faults import FaultRule
from smmpanel.simulator.state import SimState
from smmpanel.simulator.validation import ApiError

RANK = {"Pending": 0, "In progress": 1, "Completed": 2, "Partial": 2, "Canceled": 2}

operation = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from([1, 2, 5]),
        st.integers(100, 5000),
        st.sampled_from([None, "partial", "cancel"]),
    ),
    st.tuples(st.just("advance"), st.floats(0, 15)),
    st.tuples(st.just("cancel"), st.integers(1, 12)),
    st.tuples(st.just("refill"), st.integers(1, 12)),
    st.tuples(st.just("subscribe"), st.integers(1, 3)),
)


def run(ops: list[tuple[object, ...]], eager: bool) -> SimState:
    state = SimState(
        SimulatorConfig(
            manual_clock=True,
            speed=10,
            cancel_delay=3,
            subscription_interval=7,
            balance=Decimal(50),
        )
    )
    for op in ops:
        try:
            if op[0] == "add":
                _, service, quantity, outcome = op
                rule = FaultRule(str(outcome)) if outcome else None
                state.add(
                    {"service": str(service), "link": "https://l", "quantity": str(quantity)},
                    outcome=rule,
                )
            elif op[0] == "advance":
                seconds = float(op[1])  # type: ignore[arg-type]
                state.advance(seconds) if eager else state.clock.advance(seconds)
            elif op[0] == "cancel":
                state.cancel(int(op[1]))  # type: ignore[call-overload]
            elif op[0] == "refill":
                state.refill(int(op[1]))  # type: ignore[call-overload]
            else:
                state.add(
                    {
                        "service": "21",
                        "username": "u",
                        "min": "50",
                        "max": "60",
                        "posts": str(op[1]),
                    }
                )
        except ApiError:
            pass
    return state


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(operation, max_size=25))
def test_money_is_conserved_and_statuses_only_move_forward(ops: list[tuple[object, ...]]) -> None:
    state = run(ops, eager=True)
    net = sum(
        (o.charge - o.refunded for o in state.orders.values() if o.subscription is None), Decimal(0)
    )
    assert state.balance + net == Decimal(50)
    assert state.balance >= 0
    for order in state.orders.values():
        if order.status == "Partial":
            assert 0 < order.remains < order.quantity
        if order.status == "Canceled" and order.subscription is None:
            assert order.refunded == order.charge


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(operation, max_size=25))
def test_lazy_reads_equal_eager_progress(ops: list[tuple[object, ...]]) -> None:
    lazy, eager = run(ops, eager=False), run(ops, eager=True)
    ids = sorted(eager.orders)
    lazy_views = lazy.statuses(list(ids))  # the first look brings everything up to date
    assert sorted(lazy.orders) == ids
    assert lazy_views == eager.statuses(list(ids))
    assert lazy.balance == eager.balance


@settings(max_examples=30, deadline=None, database=None)
@given(st.lists(st.floats(0, 6), min_size=1, max_size=12))
def test_status_rank_never_decreases(steps: list[float]) -> None:
    state = SimState(SimulatorConfig(manual_clock=True, speed=10))
    order_id = state.add({"service": "1", "link": "https://l", "quantity": "1000"})
    rank, remains = 0, 1000
    for step in steps:
        state.advance(step)
        view = state.status(order_id)
        assert view is not None
        assert RANK[view.status] >= rank and view.remains <= remains
        rank, remains = RANK[view.status], view.remains
