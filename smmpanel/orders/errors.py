from smmpanel.errors import DomainError


class InvalidOrderRequest(DomainError):
    """Missing or malformed parameters for the service's type."""


class QuantityTooLow(DomainError):
    def __init__(self, minimum: int) -> None:
        super().__init__(f"Quantity less than minimal {minimum}")
        self.minimum = minimum


class QuantityTooHigh(DomainError):
    def __init__(self, maximum: int) -> None:
        super().__init__(f"Quantity more than maximum {maximum}")
        self.maximum = maximum


class InvalidLink(DomainError):
    pass


class ActiveOrderExists(DomainError):
    """An active order already targets this link on this service."""


class OrderNotFound(DomainError):
    pass


class RefillNotFound(DomainError):
    pass


class CancelNotFound(DomainError):
    pass


class RefillDisabled(DomainError):
    pass


class CancelDisabled(DomainError):
    pass


class NotEligibleForRefill(DomainError):
    pass


class NotEligibleForCancel(DomainError):
    pass


class RefillAlreadyRequested(DomainError):
    pass


class CancelAlreadyRequested(DomainError):
    pass


class IdempotencyConflict(DomainError):
    """The request_id was used before with different parameters."""


class InvalidStatusChange(DomainError):
    pass
