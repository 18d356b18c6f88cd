from smmpanel.errors import DomainError


class InsufficientFunds(DomainError):
    """The balance does not cover a debit; nothing was changed."""


class AlreadyPosted(DomainError):
    """An entry with this cause exists already (e.g. the order was refunded)."""
