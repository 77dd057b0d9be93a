"""gencredits: the credit engine for generative-AI media platforms.

The public API is exactly what this module re-exports: pricing (catalogs and exact
quotes), the error tree, the billing service that embeds the ledger (``Billing``) and the
HTTP clients (``Client``, ``AsyncClient``).  See the README for the tour.
"""

from typing import TYPE_CHECKING, Any

from gencredits.errors import (
    AuthenticationFailed,
    BadCombination,
    Conflict,
    GencreditsError,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidCatalog,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Unavailable,
    UnknownCatalog,
    UnknownModel,
    UnknownParameter,
    ValueNotOffered,
)
from gencredits.pricing import (
    Catalog,
    CatalogSet,
    Comparison,
    ProjectQuote,
    ProjectStep,
    Quote,
    QuoteLine,
    capacity,
    compare,
    load_catalog,
    project_quote,
    quote,
)

if TYPE_CHECKING:
    from gencredits.billing import Billing
    from gencredits.client import AsyncClient, Client

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The ledger (SQLAlchemy) and the HTTP client (httpx) load on first use, so the CLI
    # and the pricing library start fast.
    if name in ("AsyncClient", "Client"):
        from gencredits import client

        return getattr(client, name)
    if name == "Billing":
        from gencredits.billing import Billing

        return Billing
    raise AttributeError(f"module 'gencredits' has no attribute {name!r}")


__all__ = [
    "AsyncClient",
    "AuthenticationFailed",
    "BadCombination",
    "Billing",
    "Catalog",
    "CatalogSet",
    "Client",
    "Comparison",
    "Conflict",
    "GencreditsError",
    "IdempotencyConflict",
    "InsufficientCredits",
    "InvalidCatalog",
    "InvalidRequest",
    "InvalidTransition",
    "NotFound",
    "PermissionDenied",
    "ProjectQuote",
    "ProjectStep",
    "Quote",
    "QuoteLine",
    "Unavailable",
    "UnknownCatalog",
    "UnknownModel",
    "UnknownParameter",
    "ValueNotOffered",
    "__version__",
    "capacity",
    "compare",
    "load_catalog",
    "project_quote",
    "quote",
]
