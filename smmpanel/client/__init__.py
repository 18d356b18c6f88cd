"""The Python SDK of the reseller API v2, and the ``smm`` command line.

::

    from smmpanel.client import Client

    with Client("https://panel.example/api/v2", "YOUR-KEY") as panel:
        order = panel.add(1, "https://instagram.com/p/xyz", 1000)
        print(panel.status(order.order_id).status)

See docs/client.md.
"""

from . import dialect
from .aio import AsyncClient
from .errors import ApiError, OrderMayExistError, ProtocolError, SmmError, TransportError
from .models import (
    Balance,
    CancelResult,
    CancelStatus,
    CancelStatusResult,
    ItemError,
    OrderStatus,
    OrderStatusResult,
    PlacedOrder,
    RefillResult,
    RefillStatus,
    RefillStatusResult,
    Service,
    ServiceType,
)
from .sync import Client

__all__ = [
    "ApiError",
    "AsyncClient",
    "Balance",
    "CancelResult",
    "CancelStatus",
    "CancelStatusResult",
    "Client",
    "ItemError",
    "OrderMayExistError",
    "OrderStatus",
    "OrderStatusResult",
    "PlacedOrder",
    "ProtocolError",
    "RefillResult",
    "RefillStatus",
    "RefillStatusResult",
    "Service",
    "ServiceType",
    "SmmError",
    "TransportError",
    "dialect",
]
