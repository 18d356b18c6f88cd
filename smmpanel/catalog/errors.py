from smmpanel.errors import DomainError, InvalidValue


class ServiceNotFound(DomainError):
    """No such service, or it is disabled."""


class CategoryNotFound(DomainError):
    pass


class UnknownServiceType(InvalidValue):
    pass


class InvalidService(InvalidValue):
    """A service definition that cannot be stored (bounds, rate, ...)."""


class ServiceIdTaken(DomainError):
    """The wanted service id belongs to another service."""


class CategoryExists(DomainError):
    """A category of that name exists already."""


class CatalogImportError(InvalidValue):
    """A catalog file that cannot be read as services."""
