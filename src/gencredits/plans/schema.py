"""The plan catalog file format, as Pydantic models (the validation boundary).

A plan catalog is a YAML document beside the model catalogs (``catalogs/plans/``); the
format is described for operators in ``docs/plans.md``.  These models check its shape;
:mod:`gencredits.plans.catalog` checks what the shape cannot say (a free plan with a price,
a rollover cap without rollover) and reports every problem at once, each with its path.

Money is ``Decimal`` (never a float: the YAML loader reads ``9.99`` as ``Decimal("9.99")``);
credits are whole numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["PackSpec", "PlanCatalogSpec", "PlanSpec", "RefreshSpec"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
Credits = Annotated[int, Field(ge=0, le=10**12, strict=True)]
Months = Annotated[int, Field(ge=1, le=120, strict=True)]
Money = Annotated[Decimal, Field(ge=0, le=10**9, max_digits=14, decimal_places=4)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RefreshSpec(_Strict):
    """What happens to the unused allowance at the end of a cycle."""

    #: ``reset``: it expires at the cycle end.  ``rollover``: up to ``cap`` credits of it
    #: carry into the next cycle, and expire ``expires_after_months`` after they rolled over.
    policy: Literal["reset", "rollover"] = "reset"
    cap: Credits | None = None
    expires_after_months: Months | None = None


class PlanSpec(_Strict):
    title: str = Field(min_length=1, max_length=100)
    price: Money
    period: Literal["month", "year"] = "month"
    #: credits granted at the start of every month (yearly plans grant monthly too)
    monthly_credits: Credits
    #: granted with the allowance each month (kind ``bonus``), expiring at the cycle end
    bonus_credits: Credits = 0
    refresh: RefreshSpec = RefreshSpec()


class PackSpec(_Strict):
    title: str = Field(min_length=1, max_length=100)
    price: Money
    credits: Annotated[int, Field(ge=1, le=10**12, strict=True)]
    bonus_credits: Credits = 0
    #: how long the pack's credits stay spendable (default 12 months)
    validity_months: Months = 12
    #: how long its bonus stays spendable (default: as long as the credits)
    bonus_validity_months: Months | None = None


class PlanCatalogSpec(_Strict):
    catalog: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=200)
    currency: str
    #: when an upgrade takes effect: at once (its allowance granted now) or at the next cycle.
    #: A downgrade always takes effect at the next cycle.
    upgrade: Literal["immediate", "next_cycle"] = "immediate"
    plans: dict[str, PlanSpec] = Field(min_length=1)
    packs: dict[str, PackSpec] = Field(default_factory=dict)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not _CURRENCY.match(value):
            raise ValueError("an ISO 4217 code in capitals, such as USD or EUR")
        return value

    @field_validator("plans", "packs")
    @classmethod
    def _ids(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not _ID.match(str(name)):
                raise ValueError(
                    f"{name!r}: an id of lowercase letters, digits, '.', '_' or '-' "
                    "(at most 64 characters)"
                )
        return value
