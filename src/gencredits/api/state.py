"""What every route shares: settings, catalogs, the database, keys (and billing, once built)."""

from __future__ import annotations

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
    billing: Any = None  # gencredits.billing.Billing once the service is wired


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
