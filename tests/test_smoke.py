from smmpanel.accounts.queries import account_balance
from tests.factories import make_customer, make_service


def test_customer_and_service(db):
    customer = make_customer(db, balance="12.5")
    assert account_balance(db, customer.id) == (1_250_000, "USD")
    assert make_service(db) == 1
