"""The refusals of the payments context (edges map them: exit codes, pages, HTTP)."""

from __future__ import annotations

from smmpanel.errors import DomainError, InvalidValue


class PaymentsError(DomainError):
    """A request about deposits or gateways that the panel refuses."""


class UnknownGateway(PaymentsError):
    """No installed gateway has this code (or it is the demo's, outside demo mode)."""


class GatewayDisabled(PaymentsError):
    """The gateway is installed but the owner has not enabled it."""


class GatewaySetupIncomplete(PaymentsError):
    """The gateway cannot be enabled: a required setting is missing."""


class InvalidGatewaySetting(PaymentsError, InvalidValue):
    """A setting name or value the gateway cannot take (exit 2 on the command line)."""


class DepositRefused(PaymentsError):
    """A deposit that cannot be made: its amount is outside the gateway's limits,
    or no exchange rate converts it into the account's currency."""


class InvalidDepositAmount(DepositRefused, InvalidValue):
    """An amount that is not one at all: not a number, zero or negative, or with
    more decimal places than a payment takes."""


class DepositNotFound(PaymentsError):
    """No such deposit (or not the account's own)."""


class DepositStateError(PaymentsError):
    """The deposit's state does not allow this (e.g. approving a credited deposit)."""
