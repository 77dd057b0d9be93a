"""The one exception tree of gencredits, with stable string codes.

Every error a user or a platform can cause is a :class:`GencreditsError` with a
stable ``code`` (scripts and HTTP clients match on it), a one-line ``message``
that names the field, the value and what is allowed, and a ``details`` mapping
with the same facts as data.  Each family maps to one HTTP status, here and
nowhere else (``http_status``)::

    GencreditsError                      500 internal
    ├── InvalidRequest                   422 invalid_request
    │   ├── UnknownModel                 422 unknown_model
    │   ├── AmbiguousModel               422 ambiguous_model
    │   ├── UnknownParameter             422 unknown_parameter
    │   ├── ValueNotOffered              422 value_not_offered
    │   ├── BadCombination               422 bad_combination
    │   ├── InvalidCatalog               422 invalid_catalog
    │   └── InvalidSetting               422 invalid_setting
    ├── BadSignature                     400 invalid_signature
    ├── AuthenticationFailed             401 unauthorized
    ├── PermissionDenied                 403 forbidden
    │   └── NotAMember                   403 not_a_member
    ├── NotFound                         404 not_found
    │   ├── UnknownCatalog               404 unknown_catalog
    │   ├── WalletNotFound               404 wallet_not_found
    │   ├── GrantNotFound                404 grant_not_found
    │   ├── JobNotFound                  404 job_not_found
    │   ├── KeyNotFound                  404 key_not_found
    │   ├── SubscriptionNotFound         404 subscription_not_found
    │   ├── PurchaseNotFound             404 purchase_not_found
    │   ├── MemberNotFound               404 member_not_found
    │   ├── EndpointNotFound             404 endpoint_not_found
    │   └── CatalogVersionNotFound       404 catalog_version_not_found
    ├── MethodNotAllowed                 405 method_not_allowed
    ├── Conflict                         409 conflict
    │   ├── IdempotencyConflict          409 idempotency_conflict
    │   ├── InvalidTransition            409 invalid_transition
    │   ├── WalletExists                 409 wallet_exists
    │   ├── CatalogVersionExists         409 catalog_version_exists
    │   └── QuoteExpired                 409 quote_expired
    ├── InsufficientCredits              402 insufficient_credits
    ├── MemberCapExceeded                402 member_cap_exceeded
    ├── WalletFrozen                     423 wallet_frozen
    ├── RateLimited                      429 rate_limited
    └── Unavailable                      503 unavailable

Every code is a class of this tree, raised as that class, which declares its code (and a
family its status) in its header: ``class WalletNotFound(NotFound, code="wallet_not_found")``.
A subclass refines ``code`` but never the status of its family (refused when the class is
made), so each code has exactly one status.  (``code=`` on the constructor exists only for
the client, which rebuilds an error from a newer service whose code this version does not
know.)  Nothing here imports a web framework; :func:`gencredits.api.errors.response_for`
turns any of these into its HTTP answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

__all__ = [
    "AmbiguousModel",
    "AuthenticationFailed",
    "BadCombination",
    "BadSignature",
    "CatalogVersionExists",
    "CatalogVersionNotFound",
    "Conflict",
    "EndpointNotFound",
    "GencreditsError",
    "GrantNotFound",
    "IdempotencyConflict",
    "InsufficientCredits",
    "InvalidCatalog",
    "InvalidRequest",
    "InvalidSetting",
    "InvalidTransition",
    "JobNotFound",
    "KeyNotFound",
    "MemberCapExceeded",
    "MemberNotFound",
    "MethodNotAllowed",
    "NotAMember",
    "NotFound",
    "PermissionDenied",
    "PurchaseNotFound",
    "QuoteExpired",
    "RateLimited",
    "SubscriptionNotFound",
    "Unavailable",
    "UnknownCatalog",
    "UnknownModel",
    "UnknownParameter",
    "ValueNotOffered",
    "WalletExists",
    "WalletFrozen",
    "WalletNotFound",
]


class GencreditsError(Exception):
    """Base of every gencredits error. ``code`` is stable; ``message`` is for people."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500

    def __init__(
        self, message: str, *, details: Mapping[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        if code is not None:
            self.code = code  # type: ignore[misc]  # per-instance refinement of the class code

    def __init_subclass__(
        cls, *, code: str | None = None, http_status: int | None = None, **kwargs: Any
    ) -> None:
        """A class of the tree declares its code, and a family its status, in its header:
        ``class WalletNotFound(NotFound, code="wallet_not_found")``.  Only a family (a
        direct subclass of :class:`GencreditsError`) sets ``http_status``, so each code has
        exactly one status."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if http_status is not None:
            if GencreditsError not in cls.__bases__:
                raise TypeError(f"{cls.__name__}: only a family sets http_status")
            cls.http_status = http_status

    def to_dict(self) -> dict[str, Any]:
        """The error as the API and ``--json`` print it: ``{"error": {...}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __str__(self) -> str:
        return self.message


class InvalidRequest(GencreditsError, code="invalid_request", http_status=422):
    """Bad input: the request names something that does not exist or is not allowed."""

    @classmethod
    def for_field(cls, field: str, value: object, allowed: str) -> Self:
        """``field=value`` is refused; ``allowed`` says in words what would be accepted."""
        return cls(
            f"{field}: {value!r} is not allowed; {allowed}",
            details={"field": field, "value": _jsonable(value), "allowed": allowed},
        )


class UnknownModel(InvalidRequest, code="unknown_model"):
    """No loaded catalog has this model id or alias."""


class AmbiguousModel(InvalidRequest, code="ambiguous_model"):
    """The model is in several loaded catalogs; the request must name one."""


class UnknownParameter(InvalidRequest, code="unknown_parameter"):
    """The model takes no setting of this name."""


class ValueNotOffered(InvalidRequest, code="value_not_offered"):
    """The model does not offer this value of a setting."""


class BadCombination(InvalidRequest, code="bad_combination"):
    """Each value is offered, but not together (a duration at that resolution...)."""


class InvalidCatalog(InvalidRequest, code="invalid_catalog"):
    """A catalog file failed validation; ``problems`` lists every problem with its path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"{source}: {len(self.problems)} problem(s)\n{lines}",
            details={"source": source, "problems": self.problems},
        )


class InvalidSetting(InvalidRequest, code="invalid_setting"):
    """A setting of the service (environment, config file, option) is refused."""


class AuthenticationFailed(GencreditsError, code="unauthorized", http_status=401):
    """No API key, or one the service does not know (or revoked)."""


class PermissionDenied(GencreditsError, code="forbidden", http_status=403):
    """The key is valid but its scopes do not allow this call."""


class NotAMember(PermissionDenied, code="not_a_member"):
    """A submission to a team wallet by someone who is not (or no longer) one of its members."""


class NotFound(GencreditsError, code="not_found", http_status=404):
    """The thing named does not exist."""


class UnknownCatalog(NotFound, code="unknown_catalog"):
    """No loaded catalog has this name."""


class WalletNotFound(NotFound, code="wallet_not_found"):
    """No wallet has this id: create it first."""


class GrantNotFound(NotFound, code="grant_not_found"):
    """No grant has this id."""


class JobNotFound(NotFound, code="job_not_found"):
    """No job has this id."""


class KeyNotFound(NotFound, code="key_not_found"):
    """No API key has this id."""


class SubscriptionNotFound(NotFound, code="subscription_not_found"):
    """No subscription has this id."""


class PurchaseNotFound(NotFound, code="purchase_not_found"):
    """No purchase has this id."""


class MemberNotFound(NotFound, code="member_not_found"):
    """The team wallet has no such member."""


class EndpointNotFound(NotFound, code="endpoint_not_found"):
    """No webhook endpoint has this id."""


class CatalogVersionNotFound(NotFound, code="catalog_version_not_found"):
    """The catalog has no published version by this name (or hash)."""


class MethodNotAllowed(GencreditsError, code="method_not_allowed", http_status=405):
    """The path exists but does not take this HTTP method."""


class Conflict(GencreditsError, code="conflict", http_status=409):
    """The request contradicts what already happened; nothing changed."""


class IdempotencyConflict(Conflict, code="idempotency_conflict"):
    """The idempotency key was already used for a different request; nothing changed."""


class InvalidTransition(Conflict, code="invalid_transition"):
    """The object is not in a state that allows this operation (e.g. completing a failed job)."""


class WalletExists(Conflict, code="wallet_exists"):
    """A wallet with this id already exists with different settings; nothing changed."""


class CatalogVersionExists(Conflict, code="catalog_version_exists"):
    """This catalog already has a version by this name, with other content; nothing stored."""


class QuoteExpired(Conflict, code="quote_expired"):
    """The quote was priced on a catalog version no longer active, and is no longer
    honoured (past its validity, or the service refuses such quotes); details name the
    quote's version, the active version and the validity.  Ask for a new quote."""


class InsufficientCredits(GencreditsError, code="insufficient_credits", http_status=402):
    """The wallet cannot cover the amount; nothing was recorded."""

    def __init__(self, *, required: int, available: int, wallet: str | None = None) -> None:
        self.required = required
        self.available = available
        self.shortfall = required - available
        where = f" in wallet {wallet!r}" if wallet else ""
        super().__init__(
            f"insufficient credits{where}: required {required}, available {available}, "
            f"shortfall {self.shortfall}",
            details={
                "required": required,
                "available": available,
                "shortfall": self.shortfall,
                **({"wallet": wallet} if wallet else {}),
            },
        )


class RateLimited(GencreditsError, code="rate_limited", http_status=429):
    """The API key sent more requests than its rate allows; retry after ``retry_after_s``
    (the HTTP answer says so in ``Retry-After``)."""

    def __init__(self, *, key_id: str, limit_per_min: int, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"rate limit: key {key_id} is allowed {limit_per_min} requests a minute; "
            f"retry after {retry_after_s} s",
            details={
                "key_id": key_id,
                "limit_per_min": limit_per_min,
                "retry_after_s": retry_after_s,
            },
        )


class MemberCapExceeded(GencreditsError, code="member_cap_exceeded", http_status=402):
    """A team member's hold would pass their cap for the current cycle (the team may well
    have the credits); nothing was recorded."""

    def __init__(
        self, *, wallet: str, member: str, cap: int, used: int, required: int, cycle_end: str
    ) -> None:
        self.cap = cap
        self.used = used
        self.shortfall = used + required - cap
        super().__init__(
            f"member {member!r} of team wallet {wallet!r} would pass their cap: cap {cap}, "
            f"used {used} this cycle, required {required}, shortfall {self.shortfall}; "
            f"the cap resets at {cycle_end}",
            details={
                "wallet": wallet,
                "member": member,
                "cap": cap,
                "used": used,
                "required": required,
                "shortfall": self.shortfall,
                "cycle_end": cycle_end,
            },
        )


class WalletFrozen(GencreditsError, code="wallet_frozen", http_status=423):
    """The wallet is frozen (after a chargeback): it takes no new submissions until an
    operator lifts the freeze; nothing was recorded."""

    def __init__(self, wallet: str, reason: str) -> None:
        super().__init__(
            f"wallet {wallet!r} is frozen ({reason}): no new submissions until an operator "
            "unfreezes it",
            details={"wallet": wallet, "reason": reason},
        )


class BadSignature(GencreditsError, code="invalid_signature", http_status=400):
    """A signed request (a payment provider's webhook) whose signature does not verify:
    missing, made with another secret, over another body, or outside the time window."""


class Unavailable(GencreditsError, code="unavailable", http_status=503):
    """A dependency (the database) cannot be reached; the operation may be retried."""


#: The longest text an error echoes of a value (the message and ``details`` alike).
_SHOWN_MAX = 200
#: Integers beyond this many bits are described, not echoed (their digits can outgrow
#: Python's own int-to-text limit, and nobody reads them).
_SHOWN_INT_BITS = 256


def _jsonable(value: object) -> object:
    """``value`` as error details echo it, always valid JSON: null, true/false and
    integers of reasonable size as themselves; text that UTF-8 can encode as itself, cut to
    :data:`_SHOWN_MAX` characters; a number that is not finite, text holding a lone
    surrogate and anything else as its ``repr`` (``str`` for other objects), cut too."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() <= _SHOWN_INT_BITS:
            return value
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, str) and _encodable(value):
        text = value
    elif isinstance(value, str | float):
        text = repr(value)
    else:
        try:
            text = str(value)
        except ValueError:  # e.g. a container of an integer too long to write out
            text = f"<{type(value).__name__}>"
        if not _encodable(text):
            text = ascii(text)
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "..."


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
