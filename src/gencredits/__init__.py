"""gencredits: the credit engine for generative-AI media platforms.

The public API is exactly what this module re-exports: pricing (catalogs and exact
quotes) and the error tree.  See the README for the tour.
"""

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

__version__ = "0.1.0"

__all__ = [
    "AuthenticationFailed",
    "BadCombination",
    "Catalog",
    "CatalogSet",
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
