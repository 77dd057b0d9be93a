"""Loading and checking plan catalogs: subscription plans and credit packs.

``load_plans(path)`` / ``parse_plans(text)`` read a YAML plan catalog, validate its shape
(:mod:`.schema`) and its meaning, and report *every* problem at once with its path in the
file (``plans.pro.refresh.cap: ...``) as :class:`~gencredits.errors.InvalidCatalog`, as the
model catalogs do.  The result is an immutable :class:`PlanCatalog`, versioned and hashed
(the hash of its canonical JSON), which tells each plan's and pack's effective price per
credit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gencredits.errors import InvalidCatalog, InvalidRequest

from .schema import PackSpec, PlanCatalogSpec, PlanSpec

__all__ = [
    "PRICE_PER_CREDIT_PLACES",
    "Pack",
    "Plan",
    "PlanCatalog",
    "bundled_plans",
    "load_plans",
    "parse_plans",
    "price_per_credit",
]

#: The one rounding rule of prices per credit: six decimal places, half up.
PRICE_PER_CREDIT_PLACES = Decimal("0.000001")
ROLLOVER_EXPIRY_MONTHS_DEFAULT = 1
BUNDLED = "default.yaml"


def price_per_credit(price: Decimal, credits: int) -> Decimal | None:
    """``price / credits`` rounded to :data:`PRICE_PER_CREDIT_PLACES` (half up); ``None``
    when nothing is granted."""
    if credits <= 0:
        return None
    return (price / Decimal(credits)).quantize(PRICE_PER_CREDIT_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    title: str
    price: Decimal
    currency: str
    period: str  # month | year
    monthly_credits: int
    bonus_credits: int
    refresh: str  # reset | rollover
    rollover_cap: int  # 0 unless rollover
    rollover_expiry_months: int

    @property
    def monthly_price(self) -> Decimal:
        return self.price / 12 if self.period == "year" else self.price

    @property
    def credits_per_period(self) -> int:
        months = 12 if self.period == "year" else 1
        return (self.monthly_credits + self.bonus_credits) * months

    @property
    def price_per_credit(self) -> Decimal | None:
        return price_per_credit(self.price, self.credits_per_period)

    def rank(self) -> tuple[Decimal, int]:
        """Higher is a bigger plan: monthly price, then monthly credits."""
        return (self.monthly_price, self.monthly_credits + self.bonus_credits)


@dataclass(frozen=True, slots=True)
class Pack:
    id: str
    title: str
    price: Decimal
    currency: str
    credits: int
    bonus_credits: int
    validity_months: int
    bonus_validity_months: int

    @property
    def price_per_credit(self) -> Decimal | None:
        return price_per_credit(self.price, self.credits + self.bonus_credits)


@dataclass(frozen=True, slots=True)
class PlanCatalog:
    name: str
    version: str
    hash: str
    title: str | None
    currency: str
    upgrade: str  # immediate | next_cycle
    plans: Mapping[str, Plan]
    packs: Mapping[str, Pack]

    def plan(self, plan_id: str) -> Plan:
        found = self.plans.get(plan_id)
        if found is None:
            raise InvalidRequest.for_field("plan", plan_id, f"one of {sorted(self.plans)}")
        return found

    def pack(self, pack_id: str) -> Pack:
        found = self.packs.get(pack_id)
        if found is None:
            raise InvalidRequest.for_field("pack", pack_id, f"one of {sorted(self.packs)}")
        return found


class _DecimalLoader(yaml.SafeLoader):
    """YAML with exact numbers: ``9.99`` is ``Decimal("9.99")``, never a float."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise yaml.YAMLError(f"{text}: not a finite decimal number") from None


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_plans(path: str | Path) -> PlanCatalog:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidCatalog(str(p), [f"cannot read the file: {exc.strerror or exc}"]) from None
    return parse_plans(text, str(p))


@cache
def bundled_plans() -> PlanCatalog:
    """The example plan catalog shipped with gencredits (``catalogs/plans/default.yaml``)."""
    entry = resources.files("gencredits") / "catalogs" / "plans" / BUNDLED
    return parse_plans(entry.read_text(encoding="utf-8"), f"plans/{BUNDLED}")


def parse_plans(text: str, source: str = "<plans>") -> PlanCatalog:
    try:
        raw = yaml.load(text, Loader=_DecimalLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidCatalog(source, [f"not valid YAML: {exc}"]) from None
    except (ValueError, RecursionError):
        raise InvalidCatalog(source, ["not valid YAML: a number or nesting too large"]) from None
    if not isinstance(raw, dict):
        raise InvalidCatalog(source, ["the document must map catalog, version, currency, plans"])
    try:
        spec = PlanCatalogSpec.model_validate(raw)
    except ValidationError as exc:
        raise InvalidCatalog(source, [_problem(e) for e in exc.errors()]) from None
    problems = [*_plan_problems(spec.plans), *_pack_problems(spec.packs)]
    if problems:
        raise InvalidCatalog(source, problems)
    return _compile(spec)


def _problem(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    msg = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
    return f"{loc or '<root>'}: {msg}{shown}"


def _plan_problems(plans: Mapping[str, PlanSpec]) -> list[str]:
    problems = []
    for plan_id, plan in plans.items():
        at = f"plans.{plan_id}"
        refresh = plan.refresh
        if plan.monthly_credits + plan.bonus_credits == 0:
            problems.append(f"{at}.monthly_credits: a plan must grant credits (got 0 and 0)")
        if refresh.policy == "reset":
            if refresh.cap is not None:
                problems.append(f"{at}.refresh.cap: only a rollover policy has a cap")
            if refresh.expires_after_months is not None:
                problems.append(
                    f"{at}.refresh.expires_after_months: only a rollover policy has one"
                )
        elif refresh.cap is None or refresh.cap == 0:
            problems.append(
                f"{at}.refresh.cap: a rollover policy needs a cap of at least 1 credit "
                "(for example one month's allowance)"
            )
    return problems


def _pack_problems(packs: Mapping[str, PackSpec]) -> list[str]:
    problems = []
    for pack_id, pack in packs.items():
        months = pack.bonus_validity_months
        if months is not None and months > pack.validity_months:
            problems.append(
                f"packs.{pack_id}.bonus_validity_months: at most the pack's validity "
                f"({pack.validity_months} months) (got {months})"
            )
        if months is not None and pack.bonus_credits == 0:
            problems.append(f"packs.{pack_id}.bonus_validity_months: the pack has no bonus")
    return problems


def _compile(spec: PlanCatalogSpec) -> PlanCatalog:
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    digest = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    plans = {
        plan_id: Plan(
            id=plan_id,
            title=p.title,
            price=p.price,
            currency=spec.currency,
            period=p.period,
            monthly_credits=p.monthly_credits,
            bonus_credits=p.bonus_credits,
            refresh=p.refresh.policy,
            rollover_cap=p.refresh.cap or 0,
            rollover_expiry_months=p.refresh.expires_after_months or ROLLOVER_EXPIRY_MONTHS_DEFAULT,
        )
        for plan_id, p in spec.plans.items()
    }
    packs = {
        pack_id: Pack(
            id=pack_id,
            title=k.title,
            price=k.price,
            currency=spec.currency,
            credits=k.credits,
            bonus_credits=k.bonus_credits,
            validity_months=k.validity_months,
            bonus_validity_months=k.bonus_validity_months or k.validity_months,
        )
        for pack_id, k in spec.packs.items()
    }
    return PlanCatalog(
        spec.catalog, spec.version, digest, spec.title, spec.currency, spec.upgrade, plans, packs
    )
