"""What every route shares: settings, catalogs, the database, keys and billing.

Billing is called from FastAPI's threadpool as it is: the SQL store serialises this
process's SQLite writers on its own mutex (``SqlStore.writer_lock``), and group commit
queues writes for its one writer thread, so no layer here needs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from gencredits.api.auth import Authenticator
from gencredits.api.keys import KeyStore
from gencredits.billing import Billing
from gencredits.config import Settings
from gencredits.pricing import CatalogSet
from gencredits.webhooks import Deliverer

__all__ = ["Services", "ServicesDep"]


@dataclass(slots=True)
class Services:
    settings: Settings
    catalogs: CatalogSet
    engine: Engine
    keys: KeyStore
    authenticator: Authenticator
    billing: Billing
    webhooks: Deliverer | None = None

    def deliverer(self) -> Deliverer:
        """The service's webhook deliverer (made on first use, closed with the app)."""
        if self.webhooks is None:
            self.webhooks = Deliverer(self.billing)
        return self.webhooks


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
