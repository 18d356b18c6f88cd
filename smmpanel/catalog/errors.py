from smmpanel.errors import DomainError


class ServiceNotFound(DomainError):
    """No such service, or it is disabled."""


class CategoryNotFound(DomainError):
    pass


class UnknownServiceType(DomainError):
    pass


class InvalidService(DomainError):
    """A service definition that cannot be stored (bounds, rate, ...)."""


class CatalogImportError(DomainError):
    pass
