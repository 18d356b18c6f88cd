"""Import every context's tables so that ``Base.metadata`` knows them all."""

from smmpanel.accounts import models as accounts_models
from smmpanel.audit import models as audit_models
from smmpanel.catalog import models as catalog_models
from smmpanel.db import Base
from smmpanel.jobs import models as jobs_models
from smmpanel.ledger import models as ledger_models
from smmpanel.orders import models as orders_models
from smmpanel.panel import models as panel_models
from smmpanel.payments import models as payments_models
from smmpanel.providers import models as providers_models
from smmpanel.staff import models as staff_models
from smmpanel.support import models as support_models

__all__ = [
    "Base",
    "accounts_models",
    "audit_models",
    "catalog_models",
    "jobs_models",
    "ledger_models",
    "orders_models",
    "panel_models",
    "payments_models",
    "providers_models",
    "staff_models",
    "support_models",
]
