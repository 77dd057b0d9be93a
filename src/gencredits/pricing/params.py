"""Request parameters: what a model accepts, compiled for fast checking and normalising.

Requests arrive as strings (CLI ``--set duration=8``) or JSON values (API); both are
normalised here to one form: ``duration`` int seconds, ``resolution`` as price lists
print it (``1080p``, ``4K``), booleans, and counts.  A left-out parameter takes the
model's default: the shortest duration, the lowest resolution, the first aspect
ratio, switches off, no images.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gencredits.errors import InvalidRequest, UnknownParameter, ValueNotOffered
from gencredits.pricing.rules import Plan, QuoteLine, round_credits
from gencredits.pricing.schema import (
    BOOL_PARAMS,
    COUNT_PARAMS,
    PRICE_PARAMS,
    RESOLUTIONS,
    Accepts,
)

#: Every key a request may carry (``mode`` and ``route`` pick what is priced).
REQUEST_KEYS: tuple[str, ...] = (*PRICE_PARAMS, "mode", "route")

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_RES_FOLD = {r.casefold(): r for r in RESOLUTIONS}


def merge_accepts(model: Accepts, mode: Accepts | None) -> Accepts:
    """A mode's ``accepts`` replaces the fields it sets; the rest come from the model."""
    if mode is None:
        return model
    return model.model_copy(update={f: getattr(mode, f) for f in mode.model_fields_set})


def parse_bool(field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidRequest.for_field(field, value, "use true or false")


def parse_count(field: str, value: object, what: str = "a whole number >= 0") -> int:
    if isinstance(value, bool):
        raise InvalidRequest.for_field(field, value, what)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text.isdigit():
            raise InvalidRequest.for_field(field, value, what)
        number = int(text)
    if number < 0:
        raise InvalidRequest.for_field(field, value, what)
    return number


def parse_duration(value: object) -> int:
    if isinstance(value, str):
        text = value.strip().casefold().removesuffix("s").strip()
        return parse_count("duration", text if text.isdigit() else value, "whole seconds, e.g. 8")
    return parse_count("duration", value, "whole seconds, e.g. 8")


Normaliser = Callable[[object], object]


@dataclass(frozen=True, slots=True)
class CompiledAccepts:
    """What one model (in one mode) accepts, ready for the hot path."""

    model_name: str
    durations: tuple[int, ...] | None
    duration_text: str
    resolutions: tuple[str, ...] | None
    aspect_ratios: tuple[str, ...] | None
    switches: frozenset[str]  # offered on/off parameters
    counts: Mapping[str, tuple[int, int]]  # offered count parameters -> (min, max)
    generations_max: int
    defaults: Mapping[str, object]
    normalisers: Mapping[str, Normaliser]
    spec: Accepts

    def offers(self, param: str) -> bool:
        return self.values_of(param) is not None

    def values_of(self, param: str) -> tuple[str, ...] | None:
        """Every value of ``param`` this model accepts, spelled as table keys."""
        if param == "duration":
            return None if self.durations is None else tuple(str(d) for d in self.durations)
        if param == "resolution":
            return self.resolutions
        if param == "aspect_ratio":
            return self.aspect_ratios
        if param in BOOL_PARAMS:
            return ("false", "true") if param in self.switches else None
        if param in self.counts:
            low, high = self.counts[param]
            return tuple(str(n) for n in range(low, high + 1))
        return None

    def resolve(self, raw: Mapping[str, object]) -> dict[str, object]:
        """Defaults overlaid with the request's values, each checked and normalised."""
        params = dict(self.defaults)
        normalisers = self.normalisers
        for key, value in raw.items():
            normalise = normalisers.get(key)
            if normalise is None:
                if key in ("mode", "route"):
                    continue
                raise self._unknown(key, value)
            params[key] = normalise(value)
        return params

    def price_at_defaults(self, plan: Plan) -> int:
        lines: list[QuoteLine] = []
        return round_credits(plan.amount(self.defaults, lines))

    def _unknown(self, key: str, value: object) -> InvalidRequest:
        if key in PRICE_PARAMS:
            # A known parameter this model has no setting for: only its "off" value is fine.
            return ValueNotOffered.for_field(
                key, value, f"{self.model_name} has no {key.replace('_', ' ')} setting"
            )
        return UnknownParameter.for_field(
            key, value, f"known parameters: {', '.join(REQUEST_KEYS)}"
        )


def compile_accepts(
    accepts: Accepts, generations_max: int, model_name: str = ""
) -> CompiledAccepts:
    name = model_name or "this model"
    defaults: dict[str, Any] = dict.fromkeys(("duration", "resolution", "aspect_ratio"))
    normalisers: dict[str, Normaliser] = {}

    durations: tuple[int, ...] | None = None
    duration_text = ""
    if accepts.duration is not None:
        durations = accepts.duration.offered()
        duration_text = accepts.duration.describe()
        defaults["duration"] = accepts.duration.default or durations[0]
        normalisers["duration"] = _duration(durations, duration_text, name)

    resolutions: tuple[str, ...] | None = None
    if accepts.resolution is not None:
        resolutions = tuple(accepts.resolution)
        defaults["resolution"] = resolutions[0]
        normalisers["resolution"] = _resolution(resolutions, name)

    aspects: tuple[str, ...] | None = None
    if accepts.aspect_ratio is not None:
        aspects = tuple(accepts.aspect_ratio)
        defaults["aspect_ratio"] = aspects[0]
        normalisers["aspect_ratio"] = _aspect_ratio(aspects, name)

    switches = frozenset(p for p in BOOL_PARAMS if getattr(accepts, p))
    for p in BOOL_PARAMS:
        defaults[p] = False
        normalisers[p] = _switch(p, p in switches, name)

    counts: dict[str, tuple[int, int]] = {}
    for p in COUNT_PARAMS:
        spec = getattr(accepts, p)
        low, high = (spec.min, spec.max) if spec is not None else (0, 0)
        if spec is not None:
            counts[p] = (low, high)
        defaults[p] = low
        normalisers[p] = _count(p, low, high, name)

    generations_max = accepts.generations.max if accepts.generations else generations_max
    return CompiledAccepts(
        model_name=name,
        durations=durations,
        duration_text=duration_text,
        resolutions=resolutions,
        aspect_ratios=aspects,
        switches=switches,
        counts=counts,
        generations_max=generations_max,
        defaults=defaults,
        normalisers=normalisers,
        spec=accepts,
    )


# The normalisers below run on every quote: each checks against a set built here, once, and
# its error message is spelled out here too.


def _duration(durations: tuple[int, ...], duration_text: str, name: str) -> Normaliser:
    duration_set = frozenset(durations)
    allowed = f"{name} offers {duration_text}"

    def norm(value: object) -> object:
        seconds = parse_duration(value)
        if seconds not in duration_set:
            raise ValueNotOffered.for_field("duration", value, allowed)
        return seconds

    return norm


def _resolution(resolutions: tuple[str, ...], name: str) -> Normaliser:
    res_set = frozenset(resolutions)
    allowed = f"{name} offers {', '.join(resolutions)}"

    def norm(value: object) -> object:
        text = str(value).strip()
        if text.isdigit():
            text += "p"
        canon = _RES_FOLD.get(text.casefold())
        if canon not in res_set:
            raise ValueNotOffered.for_field("resolution", value, allowed)
        return canon

    return norm


def _aspect_ratio(aspects: tuple[str, ...], name: str) -> Normaliser:
    aspect_set = frozenset(aspects)
    allowed = f"{name} offers {', '.join(aspects)}"

    def norm(value: object) -> object:
        text = str(value).strip()
        if text not in aspect_set:
            raise ValueNotOffered.for_field("aspect_ratio", value, allowed)
        return text

    return norm


def _switch(param: str, offered: bool, name: str) -> Normaliser:
    label = param.replace("_", " ")

    def norm(value: object) -> object:
        on = parse_bool(param, value)
        if on and not offered:
            raise ValueNotOffered.for_field(
                param, value, f"{name} has no {label} option (false only)"
            )
        return on

    return norm


def _count(param: str, low: int, high: int, name: str) -> Normaliser:
    label = param.replace("_", " ")
    allowed = f"{name} takes no {label}" if high == 0 else f"{name} takes {low} to {high} {label}"

    def norm(value: object) -> object:
        n = parse_count(param, value)
        if not low <= n <= high:
            raise ValueNotOffered.for_field(param, value, allowed)
        return n

    return norm
