from smmpanel.errors import DomainError, InvalidValue


class TicketNotFound(DomainError):
    """No such ticket, or (to a customer) another customer's: the same answer."""


class InvalidTicketInput(InvalidValue):
    """A subject not in the list, an empty or too long message, bad order ids."""
