"""What a new version of a catalog changes: per model, mode, route and setting combination,
the old and new price of one generation and the change in percent.  Pure.

The grid is every duration, resolution and on/off switch a mode offers (other settings at
their defaults); a duration range longer than :data:`DURATIONS_SHOWN` is shown at its
first, default and last value, and a per-second price also shows its rate per second.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from gencredits.errors import InvalidRequest
from gencredits.pricing.catalog import Catalog, CompiledMode, CompiledModel
from gencredits.pricing.quote import quote
from gencredits.pricing.rules import PerSecond, Plan

__all__ = ["CatalogDiff", "PriceChange", "diff_catalogs"]

DURATIONS_SHOWN = 12
#: Above this many combinations a mode is shown at its defaults only.
GRID_MAX = 512


@dataclass(frozen=True, slots=True)
class PriceChange:
    """One setting combination of one model: its unit price before and after (``None``:
    not offered on that side) and the change in percent (``None`` when either is missing
    or the old price is 0)."""

    model: str
    mode: str
    route: str
    settings: Mapping[str, object]
    old_credits: int | None
    new_credits: int | None
    change_percent: Decimal | None
    old_rate_per_second: Decimal | None = None
    new_rate_per_second: Decimal | None = None

    @property
    def changed(self) -> bool:
        return (self.old_credits, self.old_rate_per_second) != (
            self.new_credits,
            self.new_rate_per_second,
        )

    def to_dict(self) -> dict[str, object]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "model": self.model,
            "mode": self.mode,
            "route": self.route,
            "settings": dict(self.settings),
            "old_credits": self.old_credits,
            "new_credits": self.new_credits,
            "change_percent": text(self.change_percent),
            "old_rate_per_second": text(self.old_rate_per_second),
            "new_rate_per_second": text(self.new_rate_per_second),
        }


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    catalog: str
    old_version: str
    new_version: str
    old_hash: str
    new_hash: str
    rows: tuple[PriceChange, ...]
    added_models: tuple[str, ...]
    removed_models: tuple[str, ...]

    @property
    def changes(self) -> tuple[PriceChange, ...]:
        """Only the rows whose price moved (or which one side does not offer)."""
        return tuple(r for r in self.rows if r.changed)

    def to_dict(self, *, all_rows: bool = False) -> dict[str, object]:
        return {
            "catalog": self.catalog,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "old_hash": self.old_hash,
            "new_hash": self.new_hash,
            "added_models": list(self.added_models),
            "removed_models": list(self.removed_models),
            "rows": [r.to_dict() for r in (self.rows if all_rows else self.changes)],
        }


def diff_catalogs(old: Catalog, new: Catalog) -> CatalogDiff:
    """Every priced combination of the models both catalogs have, old against new."""
    rows: list[PriceChange] = []
    for model_id in (m for m in old.models if m in new.models):
        rows.extend(_model_rows(old, new, old.models[model_id], new.models[model_id]))
    return CatalogDiff(
        catalog=new.name,
        old_version=old.version,
        new_version=new.version,
        old_hash=old.hash,
        new_hash=new.hash,
        rows=tuple(rows),
        added_models=tuple(m for m in new.models if m not in old.models),
        removed_models=tuple(m for m in old.models if m not in new.models),
    )


def _model_rows(
    old: Catalog, new: Catalog, old_m: CompiledModel, new_m: CompiledModel
) -> Iterator[PriceChange]:
    for mode_name in dict.fromkeys([*old_m.modes, *new_m.modes]):
        old_mode, new_mode = old_m.modes.get(mode_name), new_m.modes.get(mode_name)
        for route in dict.fromkeys([*old_m.routes, *new_m.routes]):
            grid = dict.fromkeys(
                [
                    *_grid(old_mode if route in old_m.routes else None),
                    *_grid(new_mode if route in new_m.routes else None),
                ]
            )
            for key in grid:
                settings = dict(key)
                before = _price(old, old_m.id, mode_name, route, settings)
                after = _price(new, new_m.id, mode_name, route, settings)
                yield PriceChange(
                    model=new_m.id,
                    mode=mode_name,
                    route=route,
                    settings=settings,
                    old_credits=before,
                    new_credits=after,
                    change_percent=_percent(before, after),
                    old_rate_per_second=_rate(old_mode, route, settings),
                    new_rate_per_second=_rate(new_mode, route, settings),
                )


def _grid(mode: CompiledMode | None) -> list[tuple[tuple[str, object], ...]]:
    if mode is None:
        return []
    accepts = mode.accepts
    axes: list[tuple[str, list[object]]] = []
    if accepts.durations is not None:
        durations: list[object] = list(accepts.durations)
        if len(durations) > DURATIONS_SHOWN:
            durations = list(
                dict.fromkeys([durations[0], accepts.defaults["duration"], durations[-1]])
            )
        axes.append(("duration", durations))
    if accepts.resolutions is not None:
        axes.append(("resolution", list(accepts.resolutions)))
    for switch in sorted(accepts.switches):
        axes.append((switch, [False, True]))
    size = 1
    for _, values in axes:
        size *= len(values)
    if size > GRID_MAX:
        axes = []  # one row: every setting at its default
    names = [name for name, _ in axes]
    return [
        tuple(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))
    ]


def _price(
    catalog: Catalog, model_id: str, mode: str, route: str, settings: Mapping[str, object]
) -> int | None:
    try:
        return quote(catalog, model_id, {**settings, "mode": mode, "route": route}).unit_credits
    except InvalidRequest:
        return None


def _rate(mode: CompiledMode | None, route: str, settings: Mapping[str, object]) -> Decimal | None:
    plan = None if mode is None else mode.plans.get(route)
    if not isinstance(plan, Plan) or not isinstance(plan.base, PerSecond):
        return None
    if plan.base.rate is not None:
        return plan.base.rate
    table = plan.base.rate_table
    if table is None:
        return None
    assert mode is not None
    try:
        return table.lookup(mode.accepts.resolve(dict(settings)))[1]
    except InvalidRequest:
        return None


def _percent(before: int | None, after: int | None) -> Decimal | None:
    if before is None or after is None or before == 0:
        return None
    return (Decimal(after - before) * 100 / before).quantize(Decimal("0.1"))
