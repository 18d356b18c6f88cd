from smmpanel.errors import DomainError, InvalidValue


class InvalidApiKey(DomainError):
    """Missing, unknown or revoked key, or a suspended account."""


class AccountNotFound(DomainError):
    pass


class AccountExists(DomainError):
    pass


class UnknownCurrency(DomainError):
    pass


class InvalidAccountInput(InvalidValue):
    """A malformed value: a username, an amount, a code, a setting."""


class PanelInUse(DomainError):
    """A change only an empty panel allows (such as its base currency)."""


class BalanceLimit(DomainError):
    """A top-up that would take a balance past the largest one the panel keeps."""


class NoWebhook(DomainError):
    """The account has no webhook to change."""
