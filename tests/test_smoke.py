from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from tests.factories import make_customer, make_service


def test_customer_and_service(db: Database) -> None:
    customer = make_customer(db, balance="12.5")
    assert account_balance(db, customer.id) == (1_250_000, "USD")
    assert make_service(db) == 1
