"""One input type per operation: frozen, checked when made, and fingerprinted for idempotency.

Every bound comes from :mod:`gencredits.limits`, which the HTTP request schemas read too, so
the embedded library, the service and the CLI accept and refuse the same things.  A refused
value is an :class:`~gencredits.errors.InvalidRequest` naming the field, the value and what is
allowed; nothing has been read or written yet.  Floats are refused everywhere (credits and
settings are whole numbers or words).

The fingerprint (:meth:`Operation.fingerprint`) is what an idempotency record compares: the
same key with a different fingerprint is a conflict, never a second effect.  It covers what
the caller asked for, not the attribution the service adds (``submitted_by``, from the API
key), so a retry through another key of the same platform replays.  Its text must not
change between versions (a retry after an upgrade must still replay): a field added later
is left out while unset, and a record of an earlier version is matched by
:meth:`Operation.legacy_fingerprints` too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from gencredits import limits
from gencredits.clock import as_utc
from gencredits.errors import InvalidRequest
from gencredits.ledger.store import UnitHints

__all__ = [
    "CancelJob",
    "CompleteJob",
    "CreateWallet",
    "FailJob",
    "GrantCredits",
    "Operation",
    "RecordFreeJob",
    "SubmitJob",
    "VoidGrant",
    "check_id",
    "check_int",
    "check_job_id",
    "check_share",
    "check_text",
    "check_time",
]

OWNER_KINDS = ("user", "team")
#: The most a completion may charge beyond its hold, as a share of the job's quote (10: ten
#: times the quote), and the decimal places such a share may have.
EXTRA_CHARGE_SHARE_MAX = limits.EXTRA_CHARGE_SHARE_MAX
EXTRA_CHARGE_SHARE_PLACES = limits.EXTRA_CHARGE_SHARE_PLACES
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def check_text(field_name: str, value: object, max_len: int) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > max_len
        or _CONTROL_CHARACTER.search(value) is not None
    ):
        raise InvalidRequest.for_field(
            field_name, value, f"a non-empty string of at most {max_len} printable characters"
        )
    return value


def check_id(field_name: str, value: object) -> str:
    return check_text(field_name, value, limits.ID_LEN_MAX)


def check_job_id(field_name: str, value: object) -> str:
    """An id the service made (a job's, a grant's) and the caller sends back."""
    return check_text(field_name, value, limits.JOB_ID_LEN_MAX)


def check_int(field_name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest.for_field(field_name, value, f"a whole number from {low} to {high}")
    return value


def check_time(field_name: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRequest.for_field(field_name, value, "a timezone-aware datetime (UTC)")
    try:
        return as_utc(value)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00: before the first UTC instant
        raise InvalidRequest.for_field(
            field_name, value, "a timezone-aware datetime within years 1 to 9999 in UTC"
        ) from None


def check_share(field_name: str, value: object) -> Decimal:
    """A share of a job's quote: an exact decimal (a ``Decimal`` or a whole number, never a
    float) from 0 to :data:`EXTRA_CHARGE_SHARE_MAX`, with at most
    :data:`EXTRA_CHARGE_SHARE_PLACES` decimal places; returned in its shortest form."""
    share: Decimal | None = None
    if isinstance(value, Decimal):
        share = value
    elif isinstance(value, int) and not isinstance(value, bool):
        share = Decimal(value)
    if share is not None and share.is_finite() and 0 <= share <= EXTRA_CHARGE_SHARE_MAX:
        shortest = share.normalize()
        exponent = shortest.as_tuple().exponent
        if isinstance(exponent, int) and -exponent <= EXTRA_CHARGE_SHARE_PLACES:
            return Decimal(format(abs(shortest), "f"))  # abs: -0 is 0
    raise InvalidRequest.for_field(
        field_name,
        str(value) if isinstance(value, Decimal) else value,
        f"a decimal from 0 to {EXTRA_CHARGE_SHARE_MAX} with at most "
        f"{EXTRA_CHARGE_SHARE_PLACES} decimal places (a Decimal or a whole number, not a float)",
    )


def _optional_int(field_name: str, value: object, low: int, high: int) -> int | None:
    return None if value is None else check_int(field_name, value, low, high)


def _check_metadata(metadata: object) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or len(metadata) > limits.METADATA_KEYS_MAX:
        raise InvalidRequest.for_field(
            "metadata",
            metadata,
            f"a mapping of at most {limits.METADATA_KEYS_MAX} string pairs",
        )
    for key, value in metadata.items():
        check_text("metadata key", key, limits.METADATA_KEY_LEN_MAX)
        if (
            not isinstance(value, str)
            or len(value) > limits.METADATA_VALUE_LEN_MAX
            or "\x00" in value
        ):
            raise InvalidRequest.for_field(
                f"metadata[{key}]",
                value,
                f"a string of at most {limits.METADATA_VALUE_LEN_MAX} characters, without NUL",
            )
    return dict(metadata)


def check_params(field_name: str, params: object) -> dict[str, object]:
    """A job's settings as stored with it: names, and JSON scalars (text, whole numbers,
    true/false) the job row stores exactly as given."""
    if params is None:
        return {}
    if not isinstance(params, Mapping) or len(params) > limits.PARAMS_MAX:
        raise InvalidRequest.for_field(
            field_name, params, f"a mapping of at most {limits.PARAMS_MAX} parameter names"
        )
    for name, value in params.items():
        check_text(f"{field_name} name", name, limits.PARAM_NAME_LEN_MAX)
        ok = isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**63)
        if isinstance(value, str):
            ok = 0 < len(value) <= limits.PARAM_VALUE_LEN_MAX and "\x00" not in value
        if not ok:
            raise InvalidRequest.for_field(
                f"{field_name}[{name}]",
                value,
                f"a string of at most {limits.PARAM_VALUE_LEN_MAX} characters, "
                "a whole number or true/false",
            )
    return dict(params)


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    text = json.dumps([operation, request], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


#: Per input type, the fields its request covers (read once: ``fields()`` is not free).
_ASKED: dict[type, tuple[str, ...]] = {}


class Operation:
    """What every input type has: its operation's name, the request its fingerprint covers,
    and the idempotency scope it is recorded in."""

    __slots__ = ()
    operation: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # every operation is a dataclass

    @property
    def scope(self) -> str:
        """The idempotency scope the operation is recorded in: each names its own."""
        raise NotImplementedError

    def hints(self) -> UnitHints:
        """What its unit of work will touch, as far as the operation itself says."""
        return UnitHints()

    def request(self) -> dict[str, Any]:
        """What the caller asked for: every field but the service's own settings and the
        attribution it adds (those are declared ``compare=False``)."""
        names = _ASKED.get(type(self))
        if names is None:
            names = _ASKED[type(self)] = tuple(f.name for f in fields(self) if f.compare)
        return {name: getattr(self, name) for name in names}

    def fingerprint(self) -> str:
        return fingerprint(self.operation, self.request())

    def fingerprinted(self) -> tuple[str, dict[str, Any]]:
        """The fingerprint and the request as the idempotency record keeps it (JSON, each
        value as the fingerprint writes it), from one encoding of the request."""
        text = json.dumps(
            [self.operation, self.request()], sort_keys=True, default=str, separators=(",", ":")
        )
        request: dict[str, Any] = json.loads(text)[1]
        return hashlib.sha256(text.encode()).hexdigest(), request

    def legacy_fingerprints(self) -> tuple[str, ...]:
        """What earlier versions fingerprinted for this same request (a record they wrote
        still replays): none, unless the input type says otherwise."""
        return ()

    def request_json(self) -> dict[str, Any]:
        """The request as the idempotency record keeps it: JSON, each value as the
        fingerprint writes it (instants and decimals as text)."""
        loaded: dict[str, Any] = json.loads(json.dumps(self.request(), default=str))
        return loaded


class WalletOperation(Operation):
    """An operation on one wallet: recorded in the wallet's idempotency scope."""

    __slots__ = ()
    wallet_id: str

    @property
    def scope(self) -> str:
        return f"wallet:{self.wallet_id}"

    def hints(self) -> UnitHints:
        return UnitHints(wallet_id=self.wallet_id)


@dataclass(frozen=True, slots=True)
class CreateWallet(WalletOperation):
    operation: ClassVar[str] = "create_wallet"
    wallet_id: str
    owner_kind: str = "user"
    overdraft_limit: int = 0
    hold_ttl_s: int | None = None
    extra_charge_share: Decimal | None = None
    max_hold_ttl_s: int = field(default=limits.HOLD_TTL_S_MAX, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        if self.owner_kind not in OWNER_KINDS:
            raise InvalidRequest.for_field("owner_kind", self.owner_kind, "one of user, team")
        check_int("overdraft_limit", self.overdraft_limit, 0, limits.AMOUNT_MAX)
        _optional_int("hold_ttl_s", self.hold_ttl_s, 1, self.max_hold_ttl_s)
        if self.extra_charge_share is not None:
            share = check_share("extra_charge_share", self.extra_charge_share)
            object.__setattr__(self, "extra_charge_share", share)

    def request(self) -> dict[str, Any]:
        """Unset, the share (added in a later version) is left out: the fingerprint of a
        wallet made without one is the one earlier versions wrote.  Set, it is its text."""
        request = Operation.request(self)
        share = request.pop("extra_charge_share")
        if share is not None:
            request["extra_charge_share"] = str(share)
        return request


@dataclass(frozen=True, slots=True)
class GrantCredits(WalletOperation):
    operation: ClassVar[str] = "grant"
    wallet_id: str
    amount: int
    kind: str
    kinds: Mapping[str, int] = field(compare=False, repr=False)
    priority: int | None = None
    expires_at: datetime | None = None
    effective_at: datetime | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        check_int("amount", self.amount, 1, limits.AMOUNT_MAX)
        if self.kind not in self.kinds:
            raise InvalidRequest.for_field(
                "kind", self.kind, f"one of {', '.join(sorted(self.kinds))}"
            )
        _optional_int("priority", self.priority, 0, limits.PRIORITY_MAX)
        for name in ("expires_at", "effective_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_time(name, value))
        if self.source is not None:
            check_id("source", self.source)

    @property
    def spend_priority(self) -> int:
        return self.kinds[self.kind] if self.priority is None else self.priority


@dataclass(frozen=True, slots=True)
class VoidGrant(Operation):
    operation: ClassVar[str] = "void_grant"
    grant_id: str

    def __post_init__(self) -> None:
        check_job_id("grant_id", self.grant_id)

    @property
    def scope(self) -> str:
        return f"grant:{self.grant_id}"

    def hints(self) -> UnitHints:
        return UnitHints(grant_id=self.grant_id)


@dataclass(frozen=True, slots=True)
class SubmitJob(WalletOperation):
    operation: ClassVar[str] = "submit"
    wallet_id: str
    model: str
    params: Mapping[str, object] | None = None
    generations: int = 1
    catalog: str | None = None
    #: who submitted it, as the service attributes it (from the API key): recorded with the
    #: job, not part of the request a retry must repeat
    submitted_by: str | None = field(default=None, compare=False)
    hold_ttl_s: int | None = None
    metadata: Mapping[str, str] | None = None
    max_hold_ttl_s: int = field(default=limits.HOLD_TTL_S_MAX, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        check_id("model", self.model)
        if self.submitted_by is not None:
            check_id("submitted_by", self.submitted_by)
        _optional_int("hold_ttl_s", self.hold_ttl_s, 1, self.max_hold_ttl_s)
        object.__setattr__(self, "metadata", _check_metadata(self.metadata))
        object.__setattr__(self, "params", check_params("params", self.params))

    def legacy_fingerprints(self) -> tuple[str, ...]:
        """Versions before 0004 fingerprinted ``submitted_by`` too."""
        return (_with_submitter(self, self.submitted_by),)


@dataclass(frozen=True, slots=True)
class RecordFreeJob(WalletOperation):
    operation: ClassVar[str] = "record_free_job"
    wallet_id: str
    kind: str
    submitted_by: str | None = field(default=None, compare=False)  # attribution, as above

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        check_text("kind", self.kind, limits.FREE_KIND_LEN_MAX)
        if self.kind == "generation":
            raise InvalidRequest.for_field("kind", self.kind, "a usage kind other than generation")
        if self.submitted_by is not None:
            check_id("submitted_by", self.submitted_by)

    def legacy_fingerprints(self) -> tuple[str, ...]:
        """Versions before 0004 fingerprinted ``submitted_by`` too."""
        return (_with_submitter(self, self.submitted_by),)


def _with_submitter(op: Operation, submitted_by: str | None) -> str:
    return fingerprint(op.operation, {**op.request(), "submitted_by": submitted_by})


class _JobCallback(Operation):
    """A provider's report on a job (or a cancel): recorded in the job's own scope."""

    __slots__ = ()
    job_id: str

    @property
    def scope(self) -> str:
        return f"job:{self.job_id}"

    def hints(self) -> UnitHints:
        return UnitHints(job_id=self.job_id)

    def fields(self) -> dict[str, Any]:
        return {}

    def request(self) -> dict[str, Any]:
        return {"job_id": self.job_id, **self.fields()}


@dataclass(frozen=True, slots=True)
class CompleteJob(_JobCallback):
    operation: ClassVar[str] = "complete"
    job_id: str
    actual_params: Mapping[str, object] | None = None
    actual_generations: int | None = None

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
        _optional_int(
            "actual_generations", self.actual_generations, 0, limits.GENERATIONS_ACTUAL_MAX
        )
        if self.actual_params is not None:
            object.__setattr__(
                self, "actual_params", check_params("actual_params", self.actual_params)
            )

    @property
    def reports_actuals(self) -> bool:
        return bool(self.actual_params) or self.actual_generations is not None

    def fields(self) -> dict[str, Any]:
        return {
            "actual_params": dict(self.actual_params or {}),
            "actual_generations": self.actual_generations,
        }


@dataclass(frozen=True, slots=True)
class FailJob(_JobCallback):
    operation: ClassVar[str] = "fail"
    job_id: str
    reason: str | None = None

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
        if self.reason is not None:
            check_text("reason", self.reason, limits.REASON_LEN_MAX)

    def fields(self) -> dict[str, Any]:
        return {"reason": self.reason}


@dataclass(frozen=True, slots=True)
class CancelJob(_JobCallback):
    operation: ClassVar[str] = "cancel"
    job_id: str

    def __post_init__(self) -> None:
        check_job_id("job_id", self.job_id)
