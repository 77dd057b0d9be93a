"""Request and response bodies of the API (``XCreate`` in, ``XPublic`` out).

Bounds are part of the contract ("put a limit on everything"): names, parameter maps,
counts and balances all have a maximum, so no request can make the service do unbounded
work.  Credits are integers; line items of a quote are decimal *strings*, never floats.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "AuditPublic",
    "CallbackCreate",
    "CapacityCreate",
    "CapacityPublic",
    "CatalogList",
    "CatalogPublic",
    "CompareCreate",
    "ComparisonPublic",
    "EntryPage",
    "EntryPublic",
    "FreeJobCreate",
    "GrantCreate",
    "GrantList",
    "GrantPublic",
    "HealthPublic",
    "JobComplete",
    "JobCreate",
    "JobFail",
    "JobPage",
    "JobPublic",
    "KeyCreate",
    "KeyCreated",
    "KeyList",
    "KeyPublic",
    "ModeDetail",
    "ModelDetail",
    "ModelList",
    "ModelPublic",
    "PostingPublic",
    "ProjectCreate",
    "ProjectQuotePublic",
    "ProjectStepCreate",
    "ProjectStepPublic",
    "QuoteCreate",
    "QuoteLinePublic",
    "QuotePublic",
    "SweepPublic",
    "ViolationPublic",
    "WalletCreate",
    "WalletPage",
    "WalletPublic",
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


class _Out(BaseModel):
    """A response body.  ``to_dict()`` gives the JSON the service sent, as the library's
    views do, so code written against ``Billing`` prints a remote answer unchanged."""

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class _In(BaseModel):
    # strict: JSON true is not the number 1, "5" is not 5; what the schema says is what passes
    model_config = ConfigDict(extra="forbid", strict=True)


class HealthPublic(_Out):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class CatalogPublic(_Out):
    name: str
    version: str
    hash: str
    title: str | None = None
    description: str | None = None
    models: int = Field(description="How many models the catalog prices.")


class CatalogList(_Out):
    items: list[CatalogPublic]


class ModelPublic(_Out):
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


class ModelList(_Out):
    items: list[ModelPublic]


class ModeDetail(_Out):
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


class QuoteLinePublic(_Out):
    kind: str = Field(description="base, multiplier, route, addon, rounding or generations")
    label: str
    credits: str = Field(description="Exact decimal string; the lines add up to total_credits.")


class QuotePublic(_Out):
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


class ComparisonPublic(_Out):
    catalog: str
    quotes: list[QuotePublic] = Field(description="Every model that can serve it, cheapest first.")
    skipped: dict[str, str] = Field(description="Model id -> why it cannot serve the request.")


class CapacityCreate(_In):
    balance: int = Field(ge=0, le=CREDITS_MAX, description="Credits available.")
    model: Name
    catalog: Name | None = None
    params: Params = Field(default_factory=dict)
    generations: int = Field(1, ge=1, le=GENERATIONS_MAX)


class CapacityPublic(_Out):
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


class ProjectStepPublic(_Out):
    label: str | None
    model: str
    count: int
    unit_credits: int
    quote_total_credits: int
    step_total_credits: int
    quote: QuotePublic


class ProjectQuotePublic(_Out):
    total_credits: int
    steps: list[ProjectStepPublic]


# --- wallets, grants, jobs, ledger ----------------------------------------------------------

HOLD_TTL_S_MAX = 7 * 24 * 3600
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200)]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]


class WalletCreate(_In):
    id: Text200 = Field(description="The platform's own id for the user or team.")
    owner_kind: Literal["user", "team"] = "user"
    overdraft_limit: int = Field(0, ge=0, le=CREDITS_MAX)
    hold_ttl_s: int | None = Field(
        None, ge=1, le=HOLD_TTL_S_MAX, description="Hold time limit for this wallet's jobs."
    )


class GrantPublic(_Out):
    id: str
    wallet_id: str
    kind: str
    amount: int
    remaining: int
    priority: int
    effective_at: str
    expires_at: str | None
    source: str | None
    state: str
    spendable: bool
    created_at: str
    closed_at: str | None
    outcome: str | None
    replayed: bool


class GrantList(_Out):
    items: list[GrantPublic]


class WalletPublic(_Out):
    id: str
    owner_kind: str
    available: int = Field(description="Spendable now: unexpired remaining minus debt.")
    held: int = Field(description="Reserved by pending jobs.")
    balance: int = Field(description="available + held.")
    debt: int
    overdraft_limit: int
    hold_ttl_s: int | None
    grants: list[GrantPublic]
    created_at: str
    updated_at: str
    replayed: bool


class WalletPage(_Out):
    items: list[WalletPublic]
    next_cursor: str | None


class GrantCreate(_In):
    amount: int = Field(ge=1, le=CREDITS_MAX)
    kind: Annotated[str, Field(min_length=1, max_length=20)] = Field(
        description="allowance, promotional, bonus, compensation, refund or purchase."
    )
    priority: int | None = Field(None, ge=0, le=1000, description="Lower is spent first.")
    expires_at: AwareDatetime | None = None
    effective_at: AwareDatetime | None = None
    source: Text200 | None = Field(None, description="What created it: a purchase, a plan cycle.")


class JobCreate(_In):
    model: Name
    params: Params = Field(default_factory=dict)
    generations: int = Field(1, ge=1, le=GENERATIONS_MAX)
    catalog: Name | None = None
    submitted_by: Text200 | None = None
    hold_ttl_s: int | None = Field(None, ge=1, le=HOLD_TTL_S_MAX)
    metadata: Annotated[
        dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=500)]],
        Field(max_length=20),
    ] = Field(default_factory=dict)


class FreeJobCreate(_In):
    kind: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        description="A zero-cost usage kind: scheduling, publishing, voiceover..."
    )
    submitted_by: Text200 | None = None


class JobComplete(_In):
    actual_params: Params | None = Field(None, description="What was really made.")
    actual_generations: int | None = Field(None, ge=0, le=10_000)


class JobFail(_In):
    reason: Annotated[str, Field(max_length=500)] | None = None


class JobPublic(_Out):
    id: str
    wallet_id: str
    kind: str
    model: str | None
    status: int = Field(description="As the seed API numbers it: 0 pending, 1 success, 2 failed.")
    state: str = Field(description="pending, succeeded, failed, cancelled, timed_out, ...")
    creditsUsed: int = Field(description="The authoritative amount charged (held while pending).")
    credits_used: int
    credits_held: int
    credits_quoted: int
    written_off: int
    generations: int
    params: dict[str, Any]
    quote: dict[str, Any] | None
    catalog: str | None
    catalog_version: str | None
    catalog_hash: str | None
    submitted_by: str | None
    metadata: dict[str, str]
    reason: str | None
    hold_expires_at: str | None
    created_at: str
    updated_at: str
    resolved_at: str | None
    outcome: str | None = Field(
        description="For a duplicate or late callback: what had already happened."
    )
    replayed: bool = Field(description="True when this answers a retried idempotency key.")


class JobPage(_Out):
    items: list[JobPublic]
    next_cursor: str | None


class PostingPublic(_Out):
    account: str
    amount: int


class EntryPublic(_Out):
    id: str
    seq: int
    kind: str = Field(description="Why: grant, hold, capture, release, expiry, refund, ...")
    created_at: str
    job_id: str | None
    grant_id: str | None
    available_delta: int
    held_delta: int
    postings: list[PostingPublic]
    memo: str | None


class EntryPage(_Out):
    items: list[EntryPublic]
    next_cursor: str | None


class CallbackCreate(_In):
    event_id: Text200 = Field(description="The provider's id for this report; replays are no-ops.")
    job_id: Annotated[str, Field(min_length=1, max_length=64)]
    outcome: Literal["succeeded", "failed"]
    actual_params: Params | None = None
    actual_generations: int | None = Field(None, ge=0, le=10_000)
    reason: Annotated[str, Field(max_length=500)] | None = None


class SweepPublic(_Out):
    holds_released: int
    credits_released: int
    grants_expired: int
    credits_expired: int
    more: bool


class ViolationPublic(_Out):
    code: str
    subject: str
    message: str

    def __str__(self) -> str:  # as gencredits.billing.Violation prints
        return f"{self.code} {self.subject}: {self.message}"


class AuditPublic(_Out):
    clean: bool
    violations: list[ViolationPublic]


class KeyCreate(_In):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: list[Literal["admin", "billing", "read"]] = Field(min_length=1, max_length=3)


class KeyPublic(_Out):
    id: str
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    scopes: list[str]
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown in this answer only, never again.")


class KeyList(_Out):
    items: list[KeyPublic]
