"""One deposit: finding it locked for a change, its reference, and what its
gateway is told about it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.money import from_units
from smmpanel.panel.settings import get_setting
from smmpanel.payments.errors import DepositNotFound
from smmpanel.payments.gateway import DepositRef
from smmpanel.payments.models import Deposit


def reference_of(deposit_id: int) -> str:
    """The deposit's short reference, e.g. D-000042."""
    return f"D-{deposit_id:06d}"


def deposit_ref(session: Session, deposit: Deposit, panel_url: str) -> DepositRef:
    """What the gateway is told about `deposit`; `panel_url` may be "" (the
    worker's checks, which need no links)."""
    base = panel_url.rstrip("/")
    username = session.execute(
        select(Account.username).where(Account.id == deposit.account_id)
    ).scalar_one()
    return DepositRef(
        id=deposit.id,
        amount=from_units(deposit.amount).quantize(Decimal("0.01")),
        currency=deposit.currency,
        reference=deposit.reference,
        external_id=deposit.external_id,
        description=f"Balance top-up for {username} on {get_setting(session, 'panel_name')}",
        return_url=f"{base}/funds/deposits/{deposit.id}",
        webhook_url=f"{base}/payments/webhook/{deposit.gateway}",
    )


def locked_deposit(session: Session, deposit_id: int) -> Deposit:
    deposit = session.scalars(
        select(Deposit).where(Deposit.id == deposit_id).with_for_update()
    ).first()
    if deposit is None:
        raise DepositNotFound(f"no deposit {deposit_id}")
    return deposit


def external_id_taken(session: Session, gateway: str, external_id: str) -> bool:
    """Whether a deposit of `gateway` has this payment id already (it is unique
    per gateway: a second one would fail the transaction at its commit)."""
    found = session.execute(
        select(Deposit.id).where(Deposit.gateway == gateway, Deposit.external_id == external_id)
    ).first()
    return found is not None
