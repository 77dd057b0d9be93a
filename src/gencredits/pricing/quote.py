"""Quotes: the exact credit cost of a request, before it is submitted.

``quote(catalog, model, params, generations)`` is pure: no I/O, no clock.  A
:class:`Quote` carries the base cost (minimum duration, default settings: what a
tooltip shows), the unit cost (one generation with these settings), the total
(what the Generate button shows), an itemised breakdown whose lines add up to the
total, and the catalog name, version and content hash it was priced on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from gencredits.errors import BadCombination, InvalidRequest, UnknownParameter, ValueNotOffered
from gencredits.pricing.catalog import Catalog, CatalogSet, CompiledModel
from gencredits.pricing.params import parse_count
from gencredits.pricing.rules import QuoteLine, round_credits
from gencredits.pricing.schema import Mode

__all__ = [
    "Comparison",
    "ProjectQuote",
    "ProjectStep",
    "Quote",
    "QuoteLine",
    "capacity",
    "compare",
    "load_project",
    "project_quote",
    "quote",
]


class Quote(NamedTuple):
    """The price of one request.  ``sum(line.credits for line in breakdown) == total_credits``."""

    model: str
    model_name: str
    mode: str
    route: str
    params: Mapping[str, object]
    generations: int
    base_credits: int
    unit_credits: int
    total_credits: int
    breakdown: tuple[QuoteLine, ...]
    catalog: str
    catalog_version: str
    catalog_hash: str
    provider_cost: Decimal | None = None
    provider_currency: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; line credits are decimal strings so nothing turns into a float."""
        return {
            "model": self.model,
            "model_name": self.model_name,
            "mode": self.mode,
            "route": self.route,
            "params": dict(self.params),
            "generations": self.generations,
            "base_credits": self.base_credits,
            "unit_credits": self.unit_credits,
            "total_credits": self.total_credits,
            "breakdown": [_line_dict(line) for line in self.breakdown],
            "catalog": self.catalog,
            "catalog_version": self.catalog_version,
            "catalog_hash": self.catalog_hash,
            "provider_cost": None if self.provider_cost is None else str(self.provider_cost),
            "provider_currency": self.provider_currency,
        }


def _line_dict(line: QuoteLine) -> dict[str, str]:
    """One breakdown line as JSON: ``line_credits`` (and ``credits``, its deprecated name,
    which generated clients rename because it is a Python builtin), as a decimal string."""
    text = _decimal_text(line.credits)
    return {"kind": line.kind, "label": line.label, "line_credits": text, "credits": text}


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


CatalogLike = Catalog | CatalogSet | str | None


def _pick(catalog: CatalogLike, model: str) -> tuple[Catalog, CompiledModel]:
    if isinstance(catalog, Catalog):
        return catalog, catalog.find(model)
    if isinstance(catalog, CatalogSet):
        return catalog.resolve(model)
    return CatalogSet.bundled().resolve(model, catalog)


def quote(
    catalog: CatalogLike,
    model: str,
    params: Mapping[str, object] | None = None,
    generations: int = 1,
) -> Quote:
    """Price ``generations`` generations of ``model`` with ``params`` (mode and route included).

    ``catalog`` is a compiled :class:`Catalog`, a :class:`CatalogSet`, a bundled
    catalog's name, or ``None`` for whichever bundled catalog has the model.
    """
    cat, m = _pick(catalog, model)
    return _quote_model(cat, m, params or {}, generations)


def _quote_model(
    cat: Catalog, m: CompiledModel, raw: Mapping[str, object], generations: object
) -> Quote:
    mode_name = raw.get("mode")
    if mode_name is None:
        mode_name = _implied_mode(m, raw)
    compiled = m.mode(str(mode_name) if mode_name is not None else None)
    route = raw.get("route")
    if route is None:
        route = m.default_route
    plan = compiled.plans.get(str(route))
    if plan is None:
        raise ValueNotOffered.for_field("route", route, f"{m.name} offers {', '.join(m.routes)}")
    route = str(route)
    accepts = compiled.accepts
    count = parse_count("generations", generations, "a whole number >= 1")
    if not 1 <= count <= accepts.generations_max:
        raise ValueNotOffered.for_field(
            "generations", generations, f"1 to {accepts.generations_max}"
        )
    params = accepts.resolve(raw)
    if params["input_images"] and compiled.mode.startswith("text-to-"):
        raise BadCombination(
            f"input_images: {params['input_images']} is not allowed in mode {compiled.mode}; "
            f"{m.name} takes input images in {', '.join(_image_modes(m)) or 'no mode'}",
            details={
                "field": "input_images",
                "value": params["input_images"],
                "allowed": f"0 in {compiled.mode}",
            },
        )
    lines: list[QuoteLine] = []
    raw_unit = plan.amount(params, lines)
    unit = round_credits(raw_unit)
    if unit != raw_unit:
        lines.append(QuoteLine("rounding", "rounded to whole credits", unit - raw_unit))
    total = unit * count
    if count != 1:
        lines.append(QuoteLine("generations", f"x {count} generations", Decimal(total - unit)))
    cost = compiled.provider_costs.get(route)
    provider_cost: Decimal | None = None
    if cost is not None:
        per_call = cost.per_call or Decimal(0)
        duration = params.get("duration")
        per_second = (cost.per_second or Decimal(0)) * (
            duration if isinstance(duration, int) else 0
        )
        provider_cost = (per_call + per_second) * count
    return Quote(
        model=m.id,
        model_name=m.name,
        mode=compiled.mode,
        route=route,
        params=params,
        generations=count,
        base_credits=compiled.base_credits[route],
        unit_credits=unit,
        total_credits=total,
        breakdown=tuple(lines),
        catalog=cat.name,
        catalog_version=cat.version,
        catalog_hash=cat.hash,
        provider_cost=provider_cost,
        provider_currency=None if cost is None else cost.currency,
    )


_IMAGE_INPUT_MODES: tuple[Mode, ...] = ("image-to-image", "image-to-video")


def _implied_mode(m: CompiledModel, raw: Mapping[str, object]) -> str | None:
    """Input images switch a model that has an image mode into it (``up to 4 input images
    switches the request into edit mode``); otherwise the first listed mode."""
    images = raw.get("input_images")
    if images in (None, 0, "0", False):
        return None
    for mode in _IMAGE_INPUT_MODES:
        if mode in m.modes:
            return mode
    return None


def _image_modes(m: CompiledModel) -> list[str]:
    return [n for n in m.modes if not n.startswith("text-to-")]


def capacity(balance: int, credits: int | Quote) -> int:
    """How many such requests ``balance`` credits buy (1,250 credits buy 178 of a 7-credit job)."""
    price = credits.total_credits if isinstance(credits, Quote) else credits
    if balance < 0:
        raise InvalidRequest.for_field("balance", balance, "a whole number of credits >= 0")
    if price <= 0:
        raise BadCombination.for_field("credits", price, "capacity needs a price above zero")
    return balance // price


class Comparison(NamedTuple):
    """Every model that can serve a request, cheapest first; the others with the reason."""

    quotes: list[Quote]
    skipped: dict[str, str]


def compare(
    catalog: Catalog | str,
    params: Mapping[str, object] | None = None,
    generations: int = 1,
) -> Comparison:
    cat = catalog if isinstance(catalog, Catalog) else CatalogSet.bundled()[catalog]
    raw = dict(params or {})
    quotes: list[Quote] = []
    skipped: dict[str, str] = {}
    for m in cat:
        if "mode" in raw and str(raw["mode"]) not in m.modes:
            skipped[m.id] = f"does not offer mode {raw['mode']}"
            continue
        try:
            quotes.append(_quote_model(cat, m, raw, generations))
        except InvalidRequest as exc:
            skipped[m.id] = exc.message
    quotes.sort(key=lambda q: (q.total_credits, q.model_name.casefold()))
    return Comparison(quotes, skipped)


@dataclass(frozen=True, slots=True)
class ProjectStep:
    """One line of a project: ``count`` times ``model`` with ``params``."""

    model: str
    params: Mapping[str, object]
    count: int = 1
    generations: int = 1
    catalog: str | None = None
    label: str | None = None


class ProjectQuote(NamedTuple):
    """A list of steps (a 30-second video made of seven scene images), itemised and totalled."""

    steps: tuple[tuple[ProjectStep, Quote, int], ...]  # step, its quote, step total
    total_credits: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_credits": self.total_credits,
            "steps": [
                {
                    "label": step.label,
                    "model": q.model,
                    "count": step.count,
                    "unit_credits": q.unit_credits,
                    "quote_total_credits": q.total_credits,
                    "step_total_credits": step_total,
                    "quote": q.to_dict(),
                }
                for step, q, step_total in self.steps
            ],
        }


def project_quote(catalogs: CatalogLike, steps: Iterable[ProjectStep]) -> ProjectQuote:
    priced: list[tuple[ProjectStep, Quote, int]] = []
    for i, step in enumerate(steps):
        try:
            count = parse_count("count", step.count, "a whole number >= 1")
            if count < 1:
                raise InvalidRequest.for_field("count", step.count, "a whole number >= 1")
            where: CatalogLike = catalogs
            if step.catalog is not None:
                base = catalogs if isinstance(catalogs, CatalogSet) else CatalogSet.bundled()
                where = base[step.catalog]
            q = quote(where, step.model, step.params, step.generations)
        except InvalidRequest as exc:
            field = exc.details.get("field", "model")
            raise type(exc)(
                f"steps.{i}: {exc.message}",
                details={**exc.details, "field": f"steps.{i}.{field}"},
                code=exc.code,
            ) from None
        priced.append((step, q, q.total_credits * count))
    if not priced:
        raise InvalidRequest.for_field("steps", [], "a project needs at least one step")
    return ProjectQuote(tuple(priced), sum(t for _, _, t in priced))


def load_project(path: str | Path) -> tuple[str | None, list[ProjectStep]]:
    """Read a project file: ``{catalog?, steps: [{model, count?, settings?, label?}]}``."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidRequest.for_field(
            "file", str(p), f"a readable YAML or JSON file ({exc})"
        ) from None
    return parse_project(doc)


def parse_project(doc: object) -> tuple[str | None, list[ProjectStep]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
        raise InvalidRequest.for_field(
            "steps", None, "a project is a mapping with a list of steps (model, settings, count)"
        )
    catalog = doc.get("catalog")
    steps: list[ProjectStep] = []
    allowed = {"model", "settings", "count", "generations", "catalog", "label"}
    for i, raw in enumerate(_as_list(doc["steps"])):
        if not isinstance(raw, dict) or "model" not in raw:
            raise InvalidRequest.for_field(f"steps.{i}", raw, "each step needs a model")
        extra = set(raw) - allowed
        if extra:
            key = sorted(extra)[0]
            raise UnknownParameter.for_field(
                f"steps.{i}.{key}", raw[key], f"step keys: {', '.join(sorted(allowed))}"
            )
        settings = raw.get("settings") or {}
        if not isinstance(settings, dict):
            raise InvalidRequest.for_field(f"steps.{i}.settings", settings, "a mapping of settings")
        steps.append(
            ProjectStep(
                model=str(raw["model"]),
                params=settings,
                count=raw.get("count", 1),
                generations=raw.get("generations", 1),
                catalog=raw.get("catalog"),
                label=raw.get("label"),
            )
        )
    return (str(catalog) if catalog is not None else None), steps


def _as_list(value: Sequence[Any]) -> list[Any]:
    return list(value)
