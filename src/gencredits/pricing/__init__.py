"""Pricing: catalogs of models and their price rules, and exact quotes. Pure: no I/O, no clock."""

from gencredits.pricing.catalog import (
    Catalog,
    CatalogSet,
    CompiledModel,
    load_catalog,
    parse_catalog,
)
from gencredits.pricing.quote import (
    Comparison,
    ProjectQuote,
    ProjectStep,
    Quote,
    QuoteLine,
    capacity,
    compare,
    load_project,
    parse_project,
    project_quote,
    quote,
)
from gencredits.pricing.rules import round_credits

__all__ = [
    "Catalog",
    "CatalogSet",
    "Comparison",
    "CompiledModel",
    "ProjectQuote",
    "ProjectStep",
    "Quote",
    "QuoteLine",
    "capacity",
    "compare",
    "load_catalog",
    "load_project",
    "parse_catalog",
    "parse_project",
    "project_quote",
    "quote",
    "round_credits",
]
