"""Plans and packs: the plan catalog (YAML, validated, hashed) and cycle arithmetic.

Pure: no clock, no storage.  Subscriptions and purchases that use them live in
:mod:`gencredits.billing.subscriptions` and :mod:`gencredits.billing.purchases`.
"""

from gencredits.plans.catalog import (
    Pack,
    Plan,
    PlanCatalog,
    bundled_plans,
    load_plans,
    parse_plans,
    price_per_credit,
)
from gencredits.plans.cycles import Cycle, cycle, cycle_at, cycle_start, due_cycles, rolled_over

__all__ = [
    "Cycle",
    "Pack",
    "Plan",
    "PlanCatalog",
    "bundled_plans",
    "cycle",
    "cycle_at",
    "cycle_start",
    "due_cycles",
    "load_plans",
    "parse_plans",
    "price_per_credit",
    "rolled_over",
]
