from smmpanel.errors import DomainError


class ProviderNotFound(DomainError):
    pass


class ProviderExists(DomainError):
    pass


class InvalidProvider(DomainError):
    """A provider definition or mapping that cannot be stored."""


class ProviderUnavailable(DomainError):
    """The upstream could not be reached or answered nonsense."""
