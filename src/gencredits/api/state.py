"""What every route shares: settings, catalogs, the database, keys (and billing, once built)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from gencredits.api.auth import Authenticator
from gencredits.api.keys import KeyStore
from gencredits.config import Settings
from gencredits.pricing import CatalogSet

__all__ = ["Services", "ServicesDep"]


@dataclass(slots=True)
class Services:
    settings: Settings
    catalogs: CatalogSet
    engine: Engine
    keys: KeyStore
    authenticator: Authenticator
    billing: Any = None  # gencredits.billing.Billing
    writer: Any = None  # the same service for writes; serialised in-process on SQLite


class SerialWrites:
    """Billing calls one at a time in this process.

    SQLite has one writer.  Threads of one process that race for it wait in SQLite's busy
    handler, which sleeps in growing steps: measured with 16 concurrent submitters, that
    cut submit+complete throughput to a fifth of a single thread's and pushed p99 past
    2 s.  A mutex queues them instead (other processes still meet the busy handler).
    """

    def __init__(self, billing: Any) -> None:
        self._billing = billing
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._billing, name)

        def serialised(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return serialised


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
