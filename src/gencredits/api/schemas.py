"""Request and response bodies of the API (``XCreate`` in, ``XPublic`` out).

Bounds are part of the contract ("put a limit on everything"): names, parameter maps,
counts and balances all have a maximum, so no request can make the service do unbounded
work.  Credits are integers; line items of a quote are decimal *strings*, never floats.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CapacityCreate",
    "CapacityPublic",
    "CatalogList",
    "CatalogPublic",
    "CompareCreate",
    "ComparisonPublic",
    "HealthPublic",
    "ModeDetail",
    "ModelDetail",
    "ModelList",
    "ModelPublic",
    "ProjectCreate",
    "ProjectQuotePublic",
    "ProjectStepCreate",
    "ProjectStepPublic",
    "QuoteCreate",
    "QuoteLinePublic",
    "QuotePublic",
]

CREDITS_MAX = 10**15
GENERATIONS_MAX = 1000

Name = Annotated[str, Field(min_length=1, max_length=200)]
ParamValue = Annotated[str, Field(max_length=100)] | bool | int
Params = Annotated[
    dict[Annotated[str, Field(max_length=50)], ParamValue],
    Field(
        max_length=20,
        description="Settings as the catalog names them: duration, resolution, aspect_ratio, "
        "audio, preview, prompt_enhancer, end_frame, references, input_images, mode, route.",
        examples=[{"duration": 10, "resolution": "1080p"}],
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthPublic(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class CatalogPublic(BaseModel):
    name: str
    version: str
    hash: str
    title: str | None = None
    description: str | None = None
    models: int = Field(description="How many models the catalog prices.")


class CatalogList(BaseModel):
    items: list[CatalogPublic]


class ModelPublic(BaseModel):
    catalog: str
    id: str
    name: str
    aliases: list[str]
    modes: list[str]
    default_mode: str
    routes: list[str]
    default_route: str
    base_credits: int = Field(
        description="Price of one generation in the default mode and route, at the defaults "
        "(shortest duration, lowest resolution, options off)."
    )
    accepts: dict[str, Any] = Field(description="What the default mode accepts.")


class ModelList(BaseModel):
    items: list[ModelPublic]


class ModeDetail(BaseModel):
    mode: str
    accepts: dict[str, Any]
    base_credits: dict[str, int] = Field(description="Base price per route.")
    generations_max: int


class ModelDetail(ModelPublic):
    catalog_version: str
    catalog_hash: str
    mode_details: list[ModeDetail]


class QuoteCreate(_In):
    model: Name = Field(examples=["kling/v2-1-pro"])
    catalog: Name | None = Field(None, description="Needed only when several catalogs have it.")
    params: Params = Field(default_factory=dict)
    generations: int = Field(1, ge=1, le=GENERATIONS_MAX)


class QuoteLinePublic(BaseModel):
    kind: str = Field(description="base, multiplier, route, addon, rounding or generations")
    label: str
    credits: str = Field(description="Exact decimal string; the lines add up to total_credits.")


class QuotePublic(BaseModel):
    model: str
    model_name: str
    mode: str
    route: str
    params: dict[str, str | bool | int | None]
    generations: int
    base_credits: int
    unit_credits: int
    total_credits: int
    breakdown: list[QuoteLinePublic]
    catalog: str
    catalog_version: str
    catalog_hash: str
    provider_cost: str | None
    provider_currency: str | None


class CompareCreate(_In):
    catalog: Name
    params: Params = Field(default_factory=dict)
    generations: int = Field(1, ge=1, le=GENERATIONS_MAX)


class ComparisonPublic(BaseModel):
    catalog: str
    quotes: list[QuotePublic] = Field(description="Every model that can serve it, cheapest first.")
    skipped: dict[str, str] = Field(description="Model id -> why it cannot serve the request.")


class CapacityCreate(_In):
    balance: int = Field(ge=0, le=CREDITS_MAX, description="Credits available.")
    model: Name
    catalog: Name | None = None
    params: Params = Field(default_factory=dict)
    generations: int = Field(1, ge=1, le=GENERATIONS_MAX)


class CapacityPublic(BaseModel):
    balance: int
    capacity: int = Field(description="How many such requests the balance buys.")
    remainder: int = Field(description="Credits left after buying them.")
    quote: QuotePublic


class ProjectStepCreate(_In):
    model: Name
    settings: Params = Field(default_factory=dict)
    count: int = Field(1, ge=1, le=10_000)
    generations: int = Field(1, ge=1, le=GENERATIONS_MAX)
    catalog: Name | None = None
    label: Annotated[str, Field(max_length=200)] | None = None


class ProjectCreate(_In):
    catalog: Name | None = None
    steps: list[ProjectStepCreate] = Field(min_length=1, max_length=200)


class ProjectStepPublic(BaseModel):
    label: str | None
    model: str
    count: int
    unit_credits: int
    quote_total_credits: int
    step_total_credits: int
    quote: QuotePublic


class ProjectQuotePublic(BaseModel):
    total_credits: int
    steps: list[ProjectStepPublic]
