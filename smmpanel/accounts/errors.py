from smmpanel.errors import DomainError


class InvalidApiKey(DomainError):
    """Missing, unknown or revoked key, or a suspended account."""


class AccountNotFound(DomainError):
    pass


class AccountExists(DomainError):
    pass


class UnknownCurrency(DomainError):
    pass


class InvalidAccountInput(DomainError):
    pass
