"""The catalog file format, as Pydantic models (the validation boundary).

A catalog is a YAML document; ``docs/catalog-format.md`` describes it for operators.
These models check its *shape*; :mod:`gencredits.pricing.catalog` then checks what
the shape cannot say (a table key the model does not offer, a ``same_as`` that
points nowhere) and compiles it into fast, immutable price plans.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MODES: tuple[str, ...] = (
    "text-to-image",
    "image-to-image",
    "text-to-video",
    "image-to-video",
    "extend",
    "reference-image-to-video",
    "edit-video",
    "reference-video",
    "upscale",
)
Mode = Literal[
    "text-to-image",
    "image-to-image",
    "text-to-video",
    "image-to-video",
    "extend",
    "reference-image-to-video",
    "edit-video",
    "reference-video",
    "upscale",
]

#: Resolutions as price lists print them, lowest first.  The order defines "higher tier".
RESOLUTIONS: tuple[str, ...] = (
    "360p",
    "480p",
    "540p",
    "576p",
    "720p",
    "768p",
    "1080p",
    "1K",
    "1440p",
    "2K",
    "4K",
)
RESOLUTION_RANK: dict[str, int] = {r: i for i, r in enumerate(RESOLUTIONS)}
_RESOLUTION_BY_FOLD: dict[str, str] = {r.casefold(): r for r in RESOLUTIONS}

#: Parameters a price rule may be keyed by or add on for.
PRICE_PARAMS: tuple[str, ...] = (
    "duration",
    "resolution",
    "aspect_ratio",
    "start_frame",
    "audio",
    "preview",
    "prompt_enhancer",
    "end_frame",
    "references",
    "input_images",
)
PriceParam = Literal[
    "duration",
    "resolution",
    "aspect_ratio",
    "start_frame",
    "audio",
    "preview",
    "prompt_enhancer",
    "end_frame",
    "references",
    "input_images",
]
BOOL_PARAMS: tuple[str, ...] = (
    "start_frame",
    "end_frame",
    "audio",
    "preview",
    "prompt_enhancer",
)
COUNT_PARAMS: tuple[str, ...] = ("references", "input_images")

_ID = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")
_ASPECT = re.compile(r"^\d+:\d+$")

Credits = Annotated[Decimal, Field(ge=0)]
Factor = Annotated[Decimal, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def table_key(value: object) -> str:
    """How a parameter value is spelled as a table key: ``True`` -> ``"true"``, ``8`` -> ``"8"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


class DurationSpec(_Strict):
    """Seconds offered: a range (``min``..``max`` by ``step``) or a set of ``values``."""

    min: int | None = Field(default=None, ge=1)
    max: int | None = Field(default=None, ge=1)
    step: int = Field(default=1, ge=1)
    values: list[Annotated[int, Field(ge=1)]] | None = None
    default: int | None = None

    @model_validator(mode="after")
    def _one_form(self) -> DurationSpec:
        if self.values is not None:
            if self.min is not None or self.max is not None:
                raise ValueError("give either values or min/max, not both")
            if not self.values:
                raise ValueError("values must not be empty")
        else:
            if self.min is None or self.max is None:
                raise ValueError("give values, or both min and max")
            if self.max < self.min:
                raise ValueError(f"max ({self.max}) is below min ({self.min})")
        if self.default is not None and self.default not in self.offered():
            raise ValueError(f"default {self.default} is not an offered duration")
        return self

    def offered(self) -> tuple[int, ...]:
        if self.values is not None:
            return tuple(sorted(set(self.values)))
        assert self.min is not None and self.max is not None
        return tuple(range(self.min, self.max + 1, self.step))

    def describe(self) -> str:
        if self.values is not None:
            return ", ".join(f"{v}s" for v in self.offered())
        if self.min == self.max:
            return f"{self.min}s"
        step = f" in steps of {self.step}s" if self.step != 1 else ""
        return f"{self.min}s-{self.max}s{step}"


class CountSpec(_Strict):
    """How many input or reference images (or generations) a request may carry."""

    min: int = Field(default=0, ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _order(self) -> CountSpec:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class Accepts(_Strict):
    """What a model (or one of its modes) accepts.  Left out means not offered."""

    duration: DurationSpec | None = None
    resolution: list[str] | None = None
    aspect_ratio: list[str] | None = None
    start_frame: bool = False
    end_frame: bool = False
    audio: bool = False
    preview: bool = False
    prompt_enhancer: bool = False
    input_images: CountSpec | None = None
    references: CountSpec | None = None
    generations: CountSpec | None = None

    @field_validator("resolution")
    @classmethod
    def _resolutions(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must list at least one resolution")
        out: list[str] = []
        for r in value:
            canon = _RESOLUTION_BY_FOLD.get(str(r).casefold())
            if canon is None:
                raise ValueError(f"unknown resolution {r!r}; known: {', '.join(RESOLUTIONS)}")
            out.append(canon)
        return sorted(set(out), key=RESOLUTION_RANK.__getitem__)

    @field_validator("aspect_ratio", mode="before")
    @classmethod
    def _aspects(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            raise ValueError("must be a list of ratios such as '16:9'")
        for r in value:
            if not isinstance(r, str) or not _ASPECT.match(r):
                raise ValueError(
                    f"aspect ratio {r!r} must be a quoted string like '16:9' "
                    "(unquoted, YAML reads 16:9 as a base-60 number)"
                )
        return value


def _keys_as_text(value: Any) -> Any:
    """YAML reads ``5:`` and ``true:`` as int and bool keys; tables are keyed by their text."""
    if isinstance(value, dict):
        return {table_key(k): _keys_as_text(v) for k, v in value.items()}
    return value


class TableSpec(_Strict):
    """Credits looked up by one or more parameters: ``rows`` nests one level per ``by`` entry."""

    by: list[PriceParam] = Field(min_length=1, max_length=4)
    rows: dict[str, Any]

    @field_validator("rows", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        return _keys_as_text(value)


class PerClipSpec(_Strict):
    """A flat amount per started clip of ``seconds`` (e.g. 9 credits per 8-second clip)."""

    seconds: int = Field(ge=1)
    credits: Credits


class ScaleSpec(_Strict):
    """``base`` credits at the minimum duration, growing in proportion to duration."""

    base: Credits


class MultiplierSpec(_Strict):
    """Multiply by ``factors[value of by]``; a value not listed multiplies by 1."""

    by: PriceParam
    factors: dict[str, Factor]
    label: str | None = None

    @field_validator("factors", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        return _keys_as_text(value)


class AddonSpec(_Strict):
    """Credits added when ``param`` is on (booleans) or per unit of it (counts, seconds)."""

    param: PriceParam
    credits: Credits | None = None
    credits_each: Credits | None = None
    credits_per_second: Credits | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> AddonSpec:
        given = [
            n
            for n in ("credits", "credits_each", "credits_per_second")
            if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of credits, credits_each, credits_per_second")
        if self.credits_each is not None and self.param not in COUNT_PARAMS:
            raise ValueError(f"credits_each needs a count parameter ({', '.join(COUNT_PARAMS)})")
        if self.credits is not None and self.param not in BOOL_PARAMS:
            raise ValueError(f"credits needs an on/off parameter ({', '.join(BOOL_PARAMS)})")
        return self


BASE_KINDS: tuple[str, ...] = (
    "flat",
    "table",
    "per_second",
    "per_clip",
    "scale",
    "profile",
    "same_as",
    "rate_of",
)


class PriceSpec(_Strict):
    """Exactly one base rule, then optional multipliers and add-ons (in that order).

    ``per_second`` is a rate times the duration; the rate is a number or a table
    (for example keyed by audio).  ``profile`` names a shared entry of the catalog's
    ``profiles``; ``same_as`` reuses another model's price for the same mode;
    ``rate_of`` charges another mode's (``MODE``, or another model's: ``MODEL:MODE``)
    per-second rate at its minimum duration over this request's duration: the way
    extensions are billed.
    """

    flat: Credits | None = None
    table: TableSpec | None = None
    per_second: Credits | TableSpec | None = None
    per_clip: PerClipSpec | None = None
    scale: ScaleSpec | None = None
    profile: str | None = None
    same_as: str | None = None
    rate_of: str | None = None
    multipliers: list[MultiplierSpec] = Field(default_factory=list)
    addons: list[AddonSpec] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _one_base(self) -> PriceSpec:
        given = [k for k in BASE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"give exactly one of {', '.join(BASE_KINDS)} (found: {found})")
        return self

    def base_kind(self) -> str:
        return next(k for k in BASE_KINDS if getattr(self, k) is not None)


class ProviderCost(_Strict):
    """What one generation costs the operator at the provider, for margin reports."""

    currency: str = "USD"
    per_call: Decimal | None = Field(default=None, ge=0)
    per_second: Decimal | None = Field(default=None, ge=0)


class ModeSpec(_Strict):
    """A mode may narrow or extend what the model accepts and carry its own price."""

    accepts: Accepts | None = None
    price: PriceSpec | None = None
    note: str | None = None


class RouteSpec(_Strict):
    """A provider route: its own price (or a multiplier on the model's) and provider cost."""

    provider: str | None = None
    price: PriceSpec | None = None
    multiplier: Factor | None = None
    provider_cost: ProviderCost | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _price_or_multiplier(self) -> RouteSpec:
        if self.price is not None and self.multiplier is not None:
            raise ValueError("give price or multiplier, not both")
        return self


class ModelSpec(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    modes: dict[Mode, ModeSpec]
    accepts: Accepts = Field(default_factory=Accepts)
    price: PriceSpec | None = None
    routes: dict[str, RouteSpec] = Field(default_factory=dict)
    default_route: str | None = None
    provider_cost: ProviderCost | None = None
    note: str | None = None

    @field_validator("modes", mode="before")
    @classmethod
    def _modes_list(cls, value: Any) -> Any:
        # `modes: [text-to-video, image-to-video]` is shorthand for empty mode specs.
        if isinstance(value, list):
            if not value:
                raise ValueError("list at least one mode")
            if not all(isinstance(m, str) for m in value):
                raise ValueError("list mode names (text), e.g. [text-to-video, image-to-video]")
            return {m: {} for m in value}
        return value

    @model_validator(mode="after")
    def _routes(self) -> ModelSpec:
        if self.default_route is not None and self.default_route not in self.routes:
            raise ValueError(f"default_route {self.default_route!r} is not one of routes")
        if not self.modes:
            raise ValueError("list at least one mode")
        return self


class CatalogSpec(_Strict):
    catalog: str = Field(min_length=1)
    version: str = Field(min_length=1)
    title: str | None = None
    source: str | None = None
    description: str | None = None
    generations_max: int = Field(default=10, ge=1, le=1000)
    profiles: dict[str, PriceSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec]

    @field_validator("catalog", "version", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | Decimal) else value

    @field_validator("models")
    @classmethod
    def _model_ids(cls, value: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        bad = [k for k in value if not _ID.match(k)]
        if bad:
            raise ValueError(
                f"model ids must be lower-case letters, digits and . _ / -: {', '.join(bad)}"
            )
        return value
