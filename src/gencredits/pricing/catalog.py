"""Loading, checking and compiling catalogs.

``load_catalog(path)`` reads a YAML catalog, validates its shape (Pydantic) and its
meaning (every table key offered, every reference resolvable, every model quoting at
its defaults), and reports *every* problem at once with its path in the file
(``models.kling-3-0-pro.price.table: ...``) as :class:`~gencredits.errors.InvalidCatalog`.
The result is an immutable :class:`Catalog` of compiled price plans.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gencredits.errors import (
    AmbiguousModel,
    InvalidCatalog,
    InvalidRequest,
    UnknownCatalog,
    UnknownModel,
    ValueNotOffered,
)
from gencredits.pricing.params import CompiledAccepts, compile_accepts, merge_accepts
from gencredits.pricing.rules import (
    Addon,
    ConstantFactor,
    Factor,
    Flat,
    Multiplier,
    PerClip,
    PerSecond,
    Plan,
    RateOf,
    Scale,
    Table,
)
from gencredits.pricing.schema import (
    Accepts,
    CatalogSpec,
    ModelSpec,
    ModeSpec,
    PriceSpec,
    ProviderCost,
    RouteSpec,
    TableSpec,
    table_key,
)

__all__ = ["Catalog", "CatalogSet", "CompiledMode", "CompiledModel", "load_catalog"]

DEFAULT_ROUTE = "default"
_WORDS = re.compile(r"[^a-z0-9.]+")


class _DecimalLoader(yaml.SafeLoader):
    """YAML with exact numbers: ``1.5`` is ``Decimal("1.5")``, never a float."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # YAML's .nan, .inf, 1:30.5 (base 60): no exact number
        raise yaml.YAMLError(f"{text}: not a finite decimal number") from None


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


@dataclass(frozen=True, slots=True)
class CompiledMode:
    mode: str
    accepts: CompiledAccepts
    plans: Mapping[str, Plan]  # route name -> plan
    base_credits: Mapping[str, int]  # route name -> price at the defaults
    provider_costs: Mapping[str, ProviderCost | None]


@dataclass(frozen=True, slots=True)
class CompiledModel:
    id: str
    name: str
    aliases: tuple[str, ...]
    modes: Mapping[str, CompiledMode]
    default_mode: str
    routes: tuple[str, ...]
    default_route: str
    spec: ModelSpec

    def mode(self, name: str | None) -> CompiledMode:
        if name is None:
            return self.modes[self.default_mode]
        compiled = self.modes.get(name)
        if compiled is None:
            raise ValueNotOffered.for_field(
                "mode", name, f"{self.name} offers {', '.join(self.modes)}"
            )
        return compiled


@dataclass(frozen=True, slots=True)
class Catalog:
    """A compiled catalog: name, version, content hash, models and a lookup index."""

    name: str
    version: str
    hash: str
    spec: CatalogSpec
    models: Mapping[str, CompiledModel]
    _index: Mapping[str, str] = field(repr=False)
    source: str = ""

    def find(self, name: str) -> CompiledModel:
        """A model by id, display name or alias, case-insensitively."""
        model_id = self._index.get(name.casefold().strip())
        if model_id is None:
            raise self._unknown(name)
        return self.models[model_id]

    def has(self, name: str) -> bool:
        return name.casefold().strip() in self._index

    def _unknown(self, name: str) -> UnknownModel:
        close = self.similar(name)
        names = list(dict.fromkeys(self.models[self._index[c]].name for c in close))
        hint = f"; did you mean {', '.join(repr(n) for n in names)}?" if names else ""
        return UnknownModel(
            f"model: {name!r} is not in catalog {self.name!r}{hint}",
            details={
                "field": "model",
                "value": name,
                "catalog": self.name,
                "suggestions": names,
                "allowed": f"one of the {len(self.models)} models of {self.name}",
            },
        )

    def similar(self, name: str, n: int = 4) -> list[str]:
        """Index keys close to ``name``: spelling neighbours, then names containing its words."""
        folded = name.casefold().strip()
        keys = list(self._index)
        close = difflib.get_close_matches(folded, keys, n=n, cutoff=0.6)
        words = [w for w in _WORDS.split(folded) if w]
        if words:
            close += [k for k in keys if all(w in k for w in words) and k not in close]
        return close[: n * 2]

    def __iter__(self) -> Iterator[CompiledModel]:
        return iter(self.models.values())


class CatalogSet(Mapping[str, Catalog]):
    """Several catalogs by name (the bundled ones, plus any an operator loads)."""

    def __init__(self, catalogs: list[Catalog]) -> None:
        self._by_name: dict[str, Catalog] = {}
        for c in catalogs:
            self._by_name[c.name] = c

    @classmethod
    def bundled(cls) -> CatalogSet:
        return _bundled_set()

    def with_files(self, paths: list[Path]) -> CatalogSet:
        return CatalogSet([*self._by_name.values(), *(load_catalog(p) for p in paths)])

    def __getitem__(self, name: str) -> Catalog:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownCatalog(
                f"catalog: {name!r} is not loaded; loaded: {', '.join(self._by_name)}",
                details={"field": "catalog", "value": name, "allowed": list(self._by_name)},
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def resolve(self, model: str, catalog: str | None = None) -> tuple[Catalog, CompiledModel]:
        """Find ``model`` in ``catalog``, or, when none is named, in the one catalog that has it."""
        if catalog is not None:
            c = self[catalog]
            return c, c.find(model)
        holders = [c for c in self._by_name.values() if c.has(model)]
        if len(holders) == 1:
            return holders[0], holders[0].find(model)
        if not holders:
            close: list[str] = []
            for c in self._by_name.values():
                err = c._unknown(model)
                close.extend(err.details.get("suggestions", []))
            hint = f"; did you mean {', '.join(repr(n) for n in close[:4])}?" if close else ""
            raise UnknownModel(
                f"model: {model!r} is in no loaded catalog{hint}",
                details={"field": "model", "value": model, "suggestions": close[:4]},
            )
        names = [c.name for c in holders]
        raise AmbiguousModel(
            f"model: {model!r} is in several catalogs ({', '.join(names)}); name one with catalog",
            details={"field": "catalog", "value": None, "allowed": names},
        )


@cache
def _bundled_set() -> CatalogSet:
    folder = resources.files("gencredits") / "catalogs"
    catalogs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            catalogs.append(parse_catalog(entry.read_text(encoding="utf-8"), entry.name))
    return CatalogSet(catalogs)


def load_catalog(path: str | Path) -> Catalog:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidCatalog(str(p), [f"cannot read the file: {exc.strerror or exc}"]) from None
    return parse_catalog(text, str(p))


def parse_catalog(text: str, source: str = "<catalog>") -> Catalog:
    try:
        raw = yaml.load(text, Loader=_DecimalLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidCatalog(source, [f"not valid YAML: {exc}"]) from None
    except (ValueError, RecursionError):  # an int of 4300+ digits; nesting too deep
        raise InvalidCatalog(source, ["not valid YAML: a number or nesting too large"]) from None
    if not isinstance(raw, dict):
        raise InvalidCatalog(source, ["the document must map catalog, version, models"])
    try:
        spec = CatalogSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [_pydantic_problem(e) for e in exc.errors()]
        problems += _problems_of_sound_models(raw, problems)
        raise InvalidCatalog(source, problems) from None
    problems = []
    catalog = _compile(spec, problems, source)
    if problems:
        raise InvalidCatalog(source, problems)
    return catalog


def _problems_of_sound_models(raw: dict[str, Any], shape_problems: list[str]) -> list[str]:
    """Meaning-level problems of the models whose shape is fine, so that one broken model
    does not hide the rest: every problem is reported at once."""
    models = raw.get("models")
    if not isinstance(models, dict):
        return []
    broken = {str(k) for k in models if any(p.startswith(f"models.{k}.") for p in shape_problems)}
    if len(broken) == len(models) or any(not p.startswith("models.") for p in shape_problems):
        return []
    try:
        sound = CatalogSpec.model_validate(
            {**raw, "models": {k: v for k, v in models.items() if str(k) not in broken}}
        )
    except ValidationError:
        return []
    more: list[str] = []
    _compile(sound, more, "")
    # A reference to a broken model is already explained by that model's own problem.
    return [p for p in more if not any(repr(b) in p for b in broken)]


def _pydantic_problem(error: Any) -> str:
    loc = ".".join(
        str(part)
        for part in error["loc"]
        if not str(part).startswith("function-") and part != "[key]"
    )
    msg = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
    return f"{loc or '<root>'}: {msg}{shown}"


def catalog_hash(spec: CatalogSpec) -> str:
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- compilation -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    """What a price is compiled for: a model in a mode, what it accepts there, and the
    references (``profile:NAME``, ``model:ID:MODE``) followed to reach it, to catch cycles."""

    accepts: CompiledAccepts
    model_id: str
    mode: str
    seen: frozenset[str] = frozenset()


class _Compiler:
    def __init__(self, spec: CatalogSpec, problems: list[str]) -> None:
        self.spec = spec
        self.problems = problems

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def price_for(self, model_id: str, mode: str) -> tuple[PriceSpec | None, str]:
        model = self.spec.models[model_id]
        mode_spec = model.modes.get(mode)  # type: ignore[call-overload]
        if mode_spec is not None and mode_spec.price is not None:
            return mode_spec.price, f"models.{model_id}.modes.{mode}.price"
        return model.price, f"models.{model_id}.price"

    def compile_model(self, model_id: str, m: ModelSpec) -> CompiledModel:
        routes = list(m.routes) or [DEFAULT_ROUTE]
        modes: dict[str, CompiledMode] = {
            name: self.compile_mode(model_id, m, name, mode_spec, routes)
            for name, mode_spec in m.modes.items()
        }
        return CompiledModel(
            id=model_id,
            name=m.name,
            aliases=tuple(m.aliases),
            modes=modes,
            default_mode=next(iter(m.modes)),
            routes=tuple(routes),
            default_route=m.default_route or routes[0],
            spec=m,
        )

    def compile_mode(
        self, model_id: str, m: ModelSpec, mode: str, mode_spec: ModeSpec, routes: list[str]
    ) -> CompiledMode:
        accepts = compile_accepts(
            merge_accepts(m.accepts, mode_spec.accepts), self.spec.generations_max, m.name
        )
        ctx = _Context(accepts, model_id, mode)
        mode_path = f"models.{model_id}.modes.{mode}"
        plans: dict[str, Plan] = {}
        costs: dict[str, ProviderCost | None] = {}
        for route in routes:
            route_spec = m.routes.get(route)
            plan = self.route_plan(ctx, route, route_spec, mode_path)
            if plan is not None:
                plans[route] = plan
                costs[route] = (route_spec.provider_cost if route_spec else None) or m.provider_cost
        base_credits: dict[str, int] = {}
        for route, plan in plans.items():
            try:
                base_credits[route] = accepts.price_at_defaults(plan)
            except InvalidRequest as exc:
                self.problem(mode_path, f"does not quote at its defaults: {exc.message}")
        return CompiledMode(mode, accepts, plans, base_credits, costs)

    def route_plan(
        self, ctx: _Context, route: str, route_spec: RouteSpec | None, mode_path: str
    ) -> Plan | None:
        """The route's price (else the mode's, else the model's), then the route's multiplier."""
        price, path = self.price_for(ctx.model_id, ctx.mode)
        if route_spec is not None and route_spec.price is not None:
            price, path = route_spec.price, f"models.{ctx.model_id}.routes.{route}.price"
        if price is None:
            self.problem(mode_path, "has no price (give the model or the mode a price)")
            return None
        plan = self.plan(price, path, ctx)
        if plan is None or route_spec is None or route_spec.multiplier is None:
            return plan
        factor = ConstantFactor(route_spec.multiplier, f"route {route} x{route_spec.multiplier}")
        return Plan(plan.base, (*plan.factors, factor), plan.addons)

    def plan(self, spec: PriceSpec, path: str, ctx: _Context) -> Plan | None:
        base = self.base(spec, path, ctx)
        accepts = ctx.accepts
        factors: list[Factor] = []
        for i, m in enumerate(spec.multipliers):
            where = f"{path}.multipliers.{i}"
            if self.offered_keys(m.by, accepts, where, m.factors):
                factors.append(
                    Multiplier(
                        m.by, {table_key(k): v for k, v in m.factors.items()}, m.label or m.by
                    )
                )
        addons: list[Addon] = []
        for i, a in enumerate(spec.addons):
            where = f"{path}.addons.{i}"
            if not accepts.offers(a.param):
                self.problem(where, f"add-on for {a.param}, which this model does not accept")
                continue
            if a.credits_per_second is not None and accepts.durations is None:
                self.problem(where, "credits_per_second needs a duration")
                continue
            label = a.label or a.param.replace("_", " ")
            if a.credits is not None:
                addons.append(Addon(a.param, a.credits, "flat", label))
            elif a.credits_each is not None:
                addons.append(Addon(a.param, a.credits_each, "each", label))
            elif a.credits_per_second is not None:
                addons.append(Addon(a.param, a.credits_per_second, "per_second", label))
        if base is None:
            return None
        if isinstance(base, Plan):
            # A profile or same_as price is inlined: its factors run before this spec's and
            # its add-ons join this spec's, so "factors scale the price, add-ons are added
            # after" holds however a price is written (and a route multiplier never scales an
            # add-on).
            return Plan(base.base, (*base.factors, *factors), (*base.addons, *addons))
        return Plan(base, tuple(factors), tuple(addons))

    def base(self, spec: PriceSpec, path: str, ctx: _Context) -> Any:
        kind = spec.base_kind()
        where = f"{path}.{kind}"
        accepts = ctx.accepts
        needs_duration = kind in ("per_second", "per_clip", "scale", "rate_of")
        if needs_duration and accepts.durations is None:
            self.problem(where, f"a {kind} price needs the model to accept a duration")
            return None
        if kind == "flat":
            assert spec.flat is not None
            return Flat(spec.flat)
        if kind == "table":
            assert spec.table is not None
            return self.table(spec.table, where, accepts, ctx.model_id)
        if kind == "per_second":
            rate = spec.per_second
            if isinstance(rate, TableSpec):
                table = self.table(rate, where, accepts, ctx.model_id)
                return None if table is None else PerSecond(None, table)
            assert rate is not None
            return PerSecond(rate, None)
        if kind == "per_clip":
            assert spec.per_clip is not None
            return PerClip(spec.per_clip.seconds, spec.per_clip.credits)
        if kind == "scale":
            assert spec.scale is not None and accepts.durations is not None
            return Scale(spec.scale.base, accepts.durations[0])
        if kind == "profile":
            assert spec.profile is not None
            return self.profile(spec.profile, where, ctx)
        if kind == "same_as":
            assert spec.same_as is not None
            return self.same_as(spec.same_as, where, ctx)
        assert kind == "rate_of" and spec.rate_of is not None
        return self.rate_of(spec.rate_of, where, ctx)

    def profile(self, name: str, where: str, ctx: _Context) -> Plan | None:
        target = self.spec.profiles.get(name)
        if target is None:
            known = ", ".join(self.spec.profiles) or "none"
            self.problem(where, f"no profile named {name!r} (profiles: {known})")
            return None
        key = f"profile:{name}"
        if key in ctx.seen:
            self.problem(where, f"profile {name!r} refers back to itself")
            return None
        return self.plan(target, f"profiles.{name}", replace(ctx, seen=ctx.seen | {key}))

    def same_as(self, target_id: str, where: str, ctx: _Context) -> Plan | None:
        if target_id not in self.spec.models:
            close = difflib.get_close_matches(target_id, list(self.spec.models), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            self.problem(where, f"no model with id {target_id!r}{hint}")
            return None
        key = f"model:{target_id}:{ctx.mode}"
        if target_id == ctx.model_id or key in ctx.seen:
            self.problem(where, f"same_as {target_id!r} refers back to itself")
            return None
        target, target_path = self.price_for(target_id, ctx.mode)
        if target is None:
            self.problem(where, f"model {target_id!r} has no price for mode {ctx.mode}")
            return None
        return self.plan(target, target_path, replace(ctx, seen=ctx.seen | {key}))

    def rate_of(self, ref: str, where: str, ctx: _Context) -> RateOf | None:
        # `rate_of: MODE` (this model) or `rate_of: MODEL:MODE` (another model's rate).
        model_id, mode = ctx.model_id, ctx.mode
        source_id, _, source_mode = ref.rpartition(":")
        source_id = source_id or model_id
        source_model = self.spec.models.get(source_id)
        if source_model is None:
            self.problem(where, f"no model with id {source_id!r}")
            return None
        if source_mode not in source_model.modes or (source_id, source_mode) == (model_id, mode):
            self.problem(
                where,
                f"rate_of must name another mode, MODE or MODEL:MODE; {source_id} has "
                f"{', '.join(source_model.modes)}",
            )
            return None
        key = f"model:{source_id}:{source_mode}"
        if key in ctx.seen:
            self.problem(where, f"rate_of {ref!r} refers back to itself")
            return None
        source_spec, source_path = self.price_for(source_id, source_mode)
        source_accepts = compile_accepts(
            merge_accepts(source_model.accepts, source_model.modes[source_mode].accepts),
            self.spec.generations_max,
            source_model.name,
        )
        if source_spec is None or source_accepts.durations is None:
            self.problem(where, f"mode {source_mode} has no per-duration price to take a rate from")
            return None
        seen = ctx.seen | {f"model:{model_id}:{mode}", key}
        source_ctx = _Context(source_accepts, source_id, source_mode, seen)
        source = self.plan(source_spec, source_path, source_ctx)
        if source is None:
            return None
        label = source_mode if source_id == model_id else f"{source_model.name} {source_mode}"
        return RateOf(source, source_accepts.durations[0], label)

    def offered_keys(
        self, param: str, accepts: CompiledAccepts, where: str, keys: Mapping[str, Any]
    ) -> bool:
        offered = accepts.values_of(param)
        if offered is None:
            self.problem(where, f"priced by {param}, which this model does not accept")
            return False
        bad = [k for k in keys if table_key(k) not in offered]
        if bad:
            self.problem(
                where,
                f"{param} value(s) {', '.join(map(str, bad))} are not offered "
                f"(offered: {', '.join(offered)})",
            )
            return False
        return True

    def table(
        self, spec: TableSpec, where: str, accepts: CompiledAccepts, model_id: str
    ) -> Table | None:
        rows: dict[tuple[str, ...], Decimal] = {}
        ok = True

        def walk(node: Any, depth: int, key: tuple[str, ...], path: str) -> None:
            nonlocal ok
            if depth == len(spec.by):
                if isinstance(node, bool) or not isinstance(node, int | Decimal) or node < 0:
                    self.problem(path, f"must be a credit amount (a number >= 0), got {node!r}")
                    ok = False
                    return
                rows[key] = Decimal(node)
                return
            if not isinstance(node, dict):
                self.problem(path, f"must map {spec.by[depth]} values to the next level")
                ok = False
                return
            if not self.offered_keys(spec.by[depth], accepts, path, node):
                ok = False
                return
            for k, v in node.items():
                walk(v, depth + 1, (*key, table_key(k)), f"{path}.{table_key(k)}")

        walk(spec.rows, 0, (), f"{where}.rows")
        if not ok or not rows:
            if ok:
                self.problem(where, "the table has no prices")
            return None
        return Table(tuple(spec.by), rows, self.spec.models[model_id].name)


def _compile(spec: CatalogSpec, problems: list[str], source: str) -> Catalog:
    compiler = _Compiler(spec, problems)
    models: dict[str, CompiledModel] = {}
    index: dict[str, str] = {}
    for model_id, m in spec.models.items():
        path = f"models.{model_id}"
        for label in (model_id, m.name, *m.aliases):
            folded = label.casefold().strip()
            other = index.get(folded)
            if other is not None and other != model_id:
                compiler.problem(path, f"name or alias {label!r} is already used by {other!r}")
            index[folded] = model_id
        models[model_id] = compiler.compile_model(model_id, m)
    return Catalog(
        name=spec.catalog,
        version=spec.version,
        hash=catalog_hash(spec),
        spec=spec,
        models=models,
        _index=index,
        source=source,
    )


def describe_accepts(accepts: Accepts) -> dict[str, Any]:
    """What a model accepts, as plain data (for listings and the API)."""
    return accepts.model_dump(exclude_defaults=True, mode="json")
