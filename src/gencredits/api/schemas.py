"""Request bodies of the API (``XCreate`` in), and the answers that are not billing views.

Billing answers are the wire types of :mod:`gencredits.billing.views` (``WalletView``,
``JobView``, ``Page[JobView]``...), declared as the routes' ``response_model``: the type
the library returns is the type documented and sent.  Here live the pricing answers and
the small envelopes around views (``AuditReport``).

Bounds are part of the contract ("put a limit on everything"): names, parameter maps,
counts and balances all have a maximum, every one from :mod:`gencredits.limits`, so the
HTTP service refuses exactly what the library refuses.  Credits are integers; line items
of a quote are decimal *strings*, never floats.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from gencredits.billing.plan_views import SubscriptionView
from gencredits.billing.views import (
    EntryView,
    GrantView,
    JobView,
    Page,
    Violation,
    WalletView,
)
from gencredits.billing.webhook_ops import DeliveryView, WebhookView
from gencredits.limits import (
    AMOUNT_MAX,
    API_KEY_NAME_LEN_MAX,
    EXTRA_CHARGE_SHARE_MAX,
    EXTRA_CHARGE_SHARE_PLACES,
    FREE_KIND_LEN_MAX,
    GENERATIONS_ACTUAL_MAX,
    GENERATIONS_MAX,
    GRANT_KIND_LEN_MAX,
    HOLD_TTL_S_MAX,
    ID_LEN_MAX,
    JOB_ID_LEN_MAX,
    KEY_LEN_MAX,
    LABEL_LEN_MAX,
    METADATA_KEY_LEN_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_LEN_MAX,
    PARAM_NAME_LEN_MAX,
    PARAM_VALUE_LEN_MAX,
    PARAMS_MAX,
    PRIORITY_MAX,
    PROJECT_STEP_COUNT_MAX,
    PROJECT_STEPS_MAX,
    REASON_LEN_MAX,
)

__all__ = [
    "CALLBACK_KEY_PREFIX",
    "AlertsSet",
    "AuditReport",
    "CallbackCreate",
    "CapacityCreate",
    "CapacityPublic",
    "CatalogList",
    "CatalogPublic",
    "ChargebackCreate",
    "CompareCreate",
    "ComparisonPublic",
    "DeliverReportPublic",
    "DeliveryPage",
    "EntryPage",
    "FreeJobCreate",
    "FreezeUpdate",
    "GrantCreate",
    "GrantPage",
    "HealthPublic",
    "JobComplete",
    "JobCreate",
    "JobFail",
    "JobPage",
    "KeyCreate",
    "KeyCreated",
    "KeyList",
    "KeyPublic",
    "MemberSet",
    "ModeDetail",
    "ModelDetail",
    "ModelList",
    "ModelPublic",
    "PlanChange",
    "ProjectCreate",
    "ProjectQuotePublic",
    "ProjectStepCreate",
    "ProjectStepPublic",
    "PurchaseCreate",
    "QuoteCreate",
    "QuoteLinePublic",
    "QuotePublic",
    "SubscriptionCreate",
    "SubscriptionList",
    "TeamCreate",
    "WalletCreate",
    "WalletPage",
    "WebhookCreate",
    "WebhookList",
]


def _without_nul(max_length: int, min_length: int = 0) -> Callable[[str], str]:
    """The check that refuses a NUL character, in the library's words (PostgreSQL cannot
    store one in a text, and no id, setting or note needs one)."""
    size = f"at most {max_length}" if min_length == 0 else f"{min_length} to {max_length}"
    allowed = f"a string of {size} characters, without NUL"

    def check(value: str) -> str:
        if "\x00" in value:
            raise ValueError(allowed)
        return value

    return check


def _param_without_nul(value: str | bool | int) -> str | bool | int:
    if isinstance(value, str):
        _without_nul(PARAM_VALUE_LEN_MAX)(value)
    return value


#: Ids a caller chooses (wallets, sources, submitters, provider events), catalog and model names.
Name = Annotated[
    str, Field(min_length=1, max_length=ID_LEN_MAX), AfterValidator(_without_nul(ID_LEN_MAX, 1))
]
ParamValue = Annotated[
    Annotated[str, Field(max_length=PARAM_VALUE_LEN_MAX)] | bool | int,
    AfterValidator(_param_without_nul),
]
Params = Annotated[
    dict[
        Annotated[
            str,
            Field(max_length=PARAM_NAME_LEN_MAX),
            AfterValidator(_without_nul(PARAM_NAME_LEN_MAX)),
        ],
        ParamValue,
    ],
    Field(
        max_length=PARAMS_MAX,
        description="Settings as the catalog names them: duration, resolution, aspect_ratio, "
        "audio, preview, prompt_enhancer, end_frame, references, input_images, mode, route.",
        examples=[{"duration": 10, "resolution": "1080p"}],
    ),
]
Metadata = Annotated[
    dict[
        Annotated[
            str,
            Field(max_length=METADATA_KEY_LEN_MAX),
            AfterValidator(_without_nul(METADATA_KEY_LEN_MAX)),
        ],
        Annotated[
            str,
            Field(max_length=METADATA_VALUE_LEN_MAX),
            AfterValidator(_without_nul(METADATA_VALUE_LEN_MAX)),
        ],
    ],
    Field(max_length=METADATA_KEYS_MAX),
]
Generations = Annotated[int, Field(ge=1, le=GENERATIONS_MAX)]
ActualGenerations = Annotated[int, Field(ge=0, le=GENERATIONS_ACTUAL_MAX)]
Reason = Annotated[
    str, Field(max_length=REASON_LEN_MAX), AfterValidator(_without_nul(REASON_LEN_MAX))
]
#: A provider callback's ``event_id`` is its idempotency key, with this prefix.
CALLBACK_KEY_PREFIX = "callback:"
_EVENT_ID_LEN_MAX = KEY_LEN_MAX - len(CALLBACK_KEY_PREFIX)
Scope = Literal["admin", "billing", "read", "publishable"]


def _iso_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date-time with a timezone, e.g. 2026-01-31T00:00:00Z")
    return value


#: An instant: JSON has no datetime, so the one strict rule is lifted for ISO 8601 text
#: (numbers stay refused: a unix time is not silently taken for one).
Instant = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_text)]


class _Out(BaseModel):
    """A response body.  ``to_dict()`` gives the JSON the service sent, as the library's
    views do, so code written against ``Billing`` prints a remote answer unchanged."""

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class _In(BaseModel):
    # strict: JSON true is not the number 1, "5" is not 5; what the schema says is what passes.
    # No NaN or infinity ever (the body reader refuses them first; this holds for models
    # built in Python too), and every text refuses NUL (_without_nul).
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class HealthPublic(_Out):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class CatalogPublic(_Out):
    name: str
    version: str
    content_hash: str = Field(
        description="The catalog's content hash: the catalog_hash a quote or job priced on it "
        "carries."
    )
    hash: str = Field(
        description="Deprecated: the same as content_hash (a name generated clients rename).",
        json_schema_extra={"deprecated": True},
    )
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
    generations: Generations = 1


class QuoteLinePublic(_Out):
    kind: str = Field(description="base, multiplier, route, addon, rounding or generations")
    label: str
    line_credits: str = Field(
        description="Exact decimal string; the lines' line_credits add up to total_credits."
    )
    credits: str = Field(
        description="Deprecated: the same as line_credits (a name generated clients rename).",
        json_schema_extra={"deprecated": True},
    )


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
    generations: Generations = 1


class ComparisonPublic(_Out):
    catalog: str
    quotes: list[QuotePublic] = Field(description="Every model that can serve it, cheapest first.")
    skipped: dict[str, str] = Field(description="Model id -> why it cannot serve the request.")


class CapacityCreate(_In):
    balance: int = Field(ge=0, le=AMOUNT_MAX, description="Credits available.")
    model: Name
    catalog: Name | None = None
    params: Params = Field(default_factory=dict)
    generations: Generations = 1


class CapacityPublic(_Out):
    balance: int
    capacity: int = Field(description="How many such requests the balance buys.")
    remainder: int = Field(description="Credits left after buying them.")
    quote: QuotePublic


class ProjectStepCreate(_In):
    model: Name
    settings: Params = Field(default_factory=dict)
    count: int = Field(1, ge=1, le=PROJECT_STEP_COUNT_MAX)
    generations: Generations = 1
    catalog: Name | None = None
    label: (
        Annotated[str, Field(max_length=LABEL_LEN_MAX), AfterValidator(_without_nul(LABEL_LEN_MAX))]
        | None
    ) = None


class ProjectCreate(_In):
    catalog: Name | None = None
    steps: list[ProjectStepCreate] = Field(min_length=1, max_length=PROJECT_STEPS_MAX)


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


class WalletCreate(_In):
    id: Name = Field(description="The platform's own id for the user or team.")
    owner_kind: Literal["user", "team"] = "user"
    overdraft_limit: int = Field(0, ge=0, le=AMOUNT_MAX)
    hold_ttl_s: int | None = Field(
        None,
        ge=1,
        le=HOLD_TTL_S_MAX,
        description="Hold time limit for this wallet's jobs (at most the service's "
        "hold_ttl_s_max).",
    )
    extra_charge_share: Annotated[Decimal, Field(strict=False)] | None = Field(
        None,
        ge=0,
        le=EXTRA_CHARGE_SHARE_MAX,
        decimal_places=EXTRA_CHARGE_SHARE_PLACES,
        description="Share of a job's quote a completion may charge beyond its hold (rounded "
        'down; send it as decimal text, e.g. "0.25"); null: the service\'s setting.',
        examples=["0.25"],
    )


# Pages under names a generated client can use (``JobPage``, not ``Page_JobView_``): the
# same fields as the library's ``Page[...]``, which the routes wrap without copying items.


class WalletPage(Page[WalletView]):
    """One page of wallets; pass ``next_cursor`` back for the next (null: the last)."""


class JobPage(Page[JobView]):
    """One page of jobs; pass ``next_cursor`` back for the next (null: the last)."""


class EntryPage(Page[EntryView]):
    """One page of ledger entries, newest first; pass ``next_cursor`` back for the next."""


class GrantPage(Page[GrantView]):
    """One page of a wallet's grants, newest first; pass ``next_cursor`` back for the next
    (null: the last)."""


class GrantCreate(_In):
    amount: int = Field(ge=1, le=AMOUNT_MAX)
    kind: Annotated[
        str,
        Field(min_length=1, max_length=GRANT_KIND_LEN_MAX),
        AfterValidator(_without_nul(GRANT_KIND_LEN_MAX, 1)),
    ] = Field(description="allowance, promotional, bonus, compensation, refund or purchase.")
    priority: int | None = Field(None, ge=0, le=PRIORITY_MAX, description="Lower is spent first.")
    expires_at: Instant | None = None
    effective_at: Instant | None = None
    source: Name | None = Field(None, description="What created it: a purchase, a plan cycle.")


class JobCreate(_In):
    model: Name
    params: Params = Field(default_factory=dict)
    generations: Generations = 1
    catalog: Name | None = None
    submitted_by: Name | None = None
    hold_ttl_s: int | None = Field(
        None, ge=1, le=HOLD_TTL_S_MAX, description="At most the service's hold_ttl_s_max."
    )
    metadata: Metadata = Field(default_factory=dict)
    quote_hash: Name | None = Field(
        None, description="The catalog_hash of the quote shown; see docs/catalog-versions.md."
    )


class FreeJobCreate(_In):
    kind: Annotated[
        str,
        Field(min_length=1, max_length=FREE_KIND_LEN_MAX),
        AfterValidator(_without_nul(FREE_KIND_LEN_MAX, 1)),
    ] = Field(description="A zero-cost usage kind: scheduling, publishing, voiceover...")
    submitted_by: Name | None = None


class JobComplete(_In):
    actual_params: Params | None = Field(None, description="What was really made.")
    actual_generations: ActualGenerations | None = None


class JobFail(_In):
    reason: Reason | None = None


class CallbackCreate(_In):
    event_id: Annotated[
        str,
        Field(min_length=1, max_length=_EVENT_ID_LEN_MAX),
        AfterValidator(_without_nul(_EVENT_ID_LEN_MAX, 1)),
    ] = Field(description="The provider's id for this report; replays are no-ops.")
    job_id: Annotated[
        str,
        Field(min_length=1, max_length=JOB_ID_LEN_MAX),
        AfterValidator(_without_nul(JOB_ID_LEN_MAX, 1)),
    ]
    outcome: Literal["succeeded", "failed"]
    actual_params: Params | None = None
    actual_generations: ActualGenerations | None = None
    reason: Reason | None = None


class AuditReport(_Out):
    clean: bool
    violations: list[Violation]


class KeyCreate(_In):
    name: Annotated[
        str,
        Field(min_length=1, max_length=API_KEY_NAME_LEN_MAX),
        AfterValidator(_without_nul(API_KEY_NAME_LEN_MAX, 1)),
    ]
    scopes: list[Scope] = Field(min_length=1, max_length=len(get_args(Scope)))


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


# --- plans, subscriptions, purchases ----------------------------------------------------------


class SubscriptionCreate(_In):
    plan: Name = Field(description="A plan id of GET /v1/plans.")


class PlanChange(_In):
    plan: Name = Field(description="The plan to move to (timing: the catalog's upgrade rule).")


class PurchaseCreate(_In):
    pack: Name = Field(description="A pack id of GET /v1/plans.")
    purchase_id: Name = Field(description="The platform's payment reference (unique).")


class ChargebackCreate(_In):
    freeze: bool = Field(True, description="Freeze the wallet until an operator lifts it.")


class FreezeUpdate(_In):
    reason: Name | None = Field(description="Why the wallet is frozen; null lifts the freeze.")


class SubscriptionList(_Out):
    items: list[SubscriptionView]


# --- teams ----------------------------------------------------------------------------------


class TeamCreate(_In):
    id: Name = Field(description="The team wallet's id (created when missing).")
    anchor_day: int | None = Field(
        None, ge=1, le=31, description="Cycles start on this day (default: today's)."
    )
    near_cap_percent: int = Field(80, ge=1, le=100)
    overdraft_limit: int = Field(0, ge=0, le=AMOUNT_MAX)


class MemberSet(_In):
    member_id: Name = Field(description="The member's id, as jobs name it in submitted_by.")
    cap: int | None = Field(
        None, ge=0, le=AMOUNT_MAX, description="Credits per cycle (held + charged); null: none."
    )
    seat_credits: int | None = Field(
        None, ge=1, le=AMOUNT_MAX, description="Seat allowance per cycle, spent first."
    )


# --- alerts and webhooks ----------------------------------------------------------------------


class AlertsSet(_In):
    below: list[Annotated[int, Field(ge=1, le=AMOUNT_MAX)]] = Field(
        default_factory=list, max_length=10, description="Levels of available credits."
    )
    depleted: bool = False
    topup_below: int | None = Field(None, ge=1, le=AMOUNT_MAX)
    topup_amount: int | None = Field(None, ge=1, le=AMOUNT_MAX)
    expiring_days: int | None = Field(
        None, ge=1, le=366, description="Alert once per grant expiring within this many days."
    )


class WebhookCreate(_In):
    url: str = Field(min_length=1, max_length=2000, description="http:// or https:// URL.")
    secret: str = Field(min_length=16, max_length=300, description="Signs each delivery.")
    wallet_id: Name | None = Field(None, description="null: every wallet's events.")
    types: list[Annotated[str, Field(max_length=60)]] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=40
    )
    id: Name | None = Field(None, description="Your id for it (default: made from the URL).")


class WebhookList(_Out):
    items: list[WebhookView]


class DeliveryPage(Page[DeliveryView]):
    """One page of the delivery log; pass ``next_cursor`` back for the next."""


class DeliverReportPublic(_Out):
    enqueued: int
    delivered: int
    retrying: int
    failed: int
