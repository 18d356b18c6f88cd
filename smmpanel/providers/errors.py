from smmpanel.errors import DomainError, InvalidValue


class ProviderNotFound(DomainError):
    pass


class ProviderExists(DomainError):
    pass


class InvalidProvider(DomainError):
    """A provider definition or mapping that cannot be stored."""


class InvalidProviderUrl(InvalidProvider, InvalidValue):
    """A provider URL the outbound guard refuses: a bad value, like a refused
    webhook URL (the command line exits 2)."""


class ProviderUnavailable(DomainError):
    """The upstream could not be reached or answered nonsense."""
