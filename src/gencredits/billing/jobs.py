"""The job lifecycle: given a job and what happened to it, the next state and the posting
template that applies, and applying it inside the wallet's unit of work.

The lifecycle is drawn once, in docs/architecture.md ("A job's credits, from quote to
capture"); :func:`next_step` is its table in code.  ``submit`` holds the quote's total and
opens the job ``pending``; ``complete`` captures what was made and releases the rest
(``succeeded``); ``fail`` and ``cancel`` release it all (``failed``, ``cancelled``); the sweep
releases a hold past its time limit (``timed_out``), after which a success is charged, or
written off when the wallet cannot pay (``succeeded_after_timeout``).  ``record_free_job``
records zero-cost usage as a job born ``succeeded``.

Each hold resolves exactly once.  A callback that arrives twice or out of order (complete
after fail, fail after complete, anything after a timeout except a success) changes nothing
and answers the job as it is with an ``already_*`` outcome; cancelling a finished success is
refused (``invalid_transition``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from gencredits import limits
from gencredits.errors import InsufficientCredits, InvalidTransition, ValueNotOffered
from gencredits.ledger import postings
from gencredits.ledger.collector import split_legs
from gencredits.ledger.model import Event, EventType, HoldLeg, Job, JobState, Wallet, evolve
from gencredits.ledger.postings import Charge, Key
from gencredits.ledger.store import WriteUnit
from gencredits.pricing import CatalogSet, Quote, quote

from . import spending, teams, usage
from .catalog_versions import VersionedCatalogs
from .inputs import CompleteJob, RecordFreeJob, SubmitJob
from .spending import SpendPolicy
from .views import Outcome

__all__ = [
    "Action",
    "JobEvent",
    "Resolution",
    "Step",
    "apply",
    "charge_limit",
    "free_job",
    "next_step",
    "open_job",
    "price_actual",
]


class JobEvent(StrEnum):
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"
    TIMEOUT = "timeout"  # the sweep found the hold past its time limit


class Action(StrEnum):
    CAPTURE = "capture"  # settle the hold: charge what was made, release the rest
    LATE_CAPTURE = "late_capture"  # a success after the timeout released the hold
    RELEASE = "release"  # give the whole hold back
    NOTHING = "nothing"  # already resolved: answer the job as it is


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    state: JobState | None = None  # the state a release ends in
    outcome: Outcome | None = None  # the answer when nothing moves


_FINISHED_OK = (JobState.SUCCEEDED, JobState.SUCCEEDED_AFTER_TIMEOUT)
_RELEASE_STATE = {
    JobEvent.FAIL: JobState.FAILED,
    JobEvent.CANCEL: JobState.CANCELLED,
    JobEvent.TIMEOUT: JobState.TIMED_OUT,
}


def next_step(job: Job, event: JobEvent) -> Step:
    """The lifecycle's table: what ``event`` does to ``job``.  Raises
    :class:`InvalidTransition` for a cancel of a job that succeeded."""
    if job.state == JobState.PENDING:
        if event == JobEvent.COMPLETE:
            return Step(Action.CAPTURE)
        return Step(Action.RELEASE, state=_RELEASE_STATE[event])
    if event == JobEvent.COMPLETE and job.state == JobState.TIMED_OUT:
        return Step(Action.LATE_CAPTURE)
    if event == JobEvent.CANCEL and job.state in _FINISHED_OK:
        raise InvalidTransition(
            f"job_id: {job.id!r} is {job.state}; only a pending job can be cancelled",
            details={"field": "job_id", "value": job.id, "state": job.state},
        )
    return Step(Action.NOTHING, outcome=Outcome.already(job.state))


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a step is applied: the charge for what was made (capture steps) and the most of
    it that may be charged (:func:`charge_limit`; the rest is written off), the reason
    recorded (release steps), and the idempotency key the transaction is recorded under."""

    charge: int = 0
    reason: str | None = None
    key: str | None = None
    limit: int | None = None


def charge_limit(job: Job, share: Decimal) -> int:
    """The most a completion of ``job`` may charge: what was held (the price the user was
    shown), plus ``share`` of the quote rounded down to a whole credit (the one rounding
    rule: floor).  ``share`` 0, the default, charges at most the hold."""
    extra = (share * job.credits_quoted).to_integral_value(rounding=ROUND_FLOOR)
    return job.hold_amount + int(extra)


def apply(
    uow: WriteUnit,
    wallet: Wallet,
    job: Job,
    step: Step,
    how: Resolution,
    now: datetime,
    policy: SpendPolicy,
) -> tuple[Job, Outcome]:
    """Apply ``step`` to ``job``: post its transaction, update the wallet, the job and the
    grants, emit the job's event.  Returns the job as it is now and the outcome."""
    key = Key(None if how.key is None else f"job:{job.id}", how.key)
    charge = how.charge if how.limit is None else min(how.charge, how.limit)
    capped = how.charge - charge  # beyond the limit: written off, never charged
    if step.action == Action.CAPTURE:
        done = _capture(uow, wallet, job, (charge, capped), now, key, policy)
    elif step.action == Action.LATE_CAPTURE:
        done = _late_capture(uow, wallet, job, (charge, capped), now, key)
    elif step.action == Action.RELEASE:
        assert step.state is not None
        done = _release(uow, wallet, job, step.state, how.reason, now, key, policy)
    else:
        assert step.outcome is not None
        return job, step.outcome
    # Every path that changes a job counts it for its team member, in the same unit.
    teams.attribute(uow, wallet, job, done[0], now)
    usage.job_changed(uow, job, done[0], now)
    return done


def _charge(
    uow: WriteUnit, wallet: Wallet, job: Job, amounts: tuple[int, int], now: datetime
) -> tuple[Charge, Wallet]:
    """Take ``amount`` beyond any hold when the wallet can pay it, else write it off; and
    write off ``capped`` (what the completion policy does not let be charged)."""
    amount, capped = amounts
    if not amount:
        return Charge(written_off=capped), wallet
    try:
        legs, wallet = spending.take(uow, wallet, amount, now, job.submitted_by)
    except InsufficientCredits:
        return Charge(written_off=amount + capped), wallet
    return Charge(legs=legs, written_off=capped), wallet


def _capture(
    uow: WriteUnit,
    wallet: Wallet,
    job: Job,
    amounts: tuple[int, int],
    now: datetime,
    key: Key,
    policy: SpendPolicy,
) -> tuple[Job, Outcome]:
    """Settle the hold: ``amounts`` is (what is charged, what the policy writes off)."""
    charge, capped = amounts
    held = job.credits_held
    captured = min(charge, held)
    _taken, released = split_legs(job.hold_legs, captured)
    returned, wallet = spending.give_back(uow, wallet, job.id, released, now, policy)
    extra, wallet = _charge(uow, wallet, job, (charge - captured, capped), now)
    tx = postings.capture(
        job.id,
        job.wallet_id,
        held=held,
        captured=captured,
        returned=returned,
        extra=extra,
        at=now,
        key=key,
    )
    if tx is not None:
        uow.record(tx)
    uow.update_wallet(evolve(wallet, held=wallet.held - held, updated_at=now))
    used = captured + (extra.amount - extra.written_off)
    job = evolve(
        job,
        state=JobState.SUCCEEDED,
        credits_held=0,
        credits_used=used,
        written_off=extra.written_off,
        updated_at=now,
        resolved_at=now,
    )
    uow.update_job(job)
    payload = {"credits_used": used, "released": held - captured, "written_off": extra.written_off}
    uow.emit(Event(job.wallet_id, EventType.JOB_SUCCEEDED, job.id, now, payload))
    if extra.written_off:
        return job, Outcome.EXTRA_WRITTEN_OFF
    if extra.amount:
        return job, Outcome.CHARGED_EXTRA
    return job, Outcome.CAPTURED if charge == held else Outcome.CAPTURED_PARTIAL


def _late_capture(
    uow: WriteUnit, wallet: Wallet, job: Job, amounts: tuple[int, int], now: datetime, key: Key
) -> tuple[Job, Outcome]:
    """A success after the hold timed out: charge it if the wallet can pay, else write off
    (and write off what the completion policy does not let be charged)."""
    charge, capped = amounts
    extra = Charge()
    if charge or capped:
        extra, wallet = _charge(uow, wallet, job, (charge, capped), now)
        uow.record(postings.late_capture(job.id, job.wallet_id, extra, at=now, key=key))
        uow.update_wallet(evolve(wallet, updated_at=now))
    used = extra.amount - extra.written_off
    job = evolve(
        job,
        state=JobState.SUCCEEDED_AFTER_TIMEOUT,
        credits_used=used,
        written_off=extra.written_off,
        updated_at=now,
        resolved_at=now,
    )
    uow.update_job(job)
    payload = {"credits_used": used, "written_off": extra.written_off}
    uow.emit(Event(job.wallet_id, EventType.JOB_SUCCEEDED_AFTER_TIMEOUT, job.id, now, payload))
    if extra.written_off:
        return job, Outcome.WRITTEN_OFF_AFTER_TIMEOUT
    return job, Outcome.CHARGED_AFTER_TIMEOUT


def _release(
    uow: WriteUnit,
    wallet: Wallet,
    job: Job,
    state: JobState,
    reason: str | None,
    now: datetime,
    key: Key,
    policy: SpendPolicy,
) -> tuple[Job, Outcome]:
    held = job.credits_held
    if held:
        returned, wallet = spending.give_back(uow, wallet, job.id, job.hold_legs, now, policy)
        timed_out = state == JobState.TIMED_OUT
        tx = postings.release(
            job.id,
            job.wallet_id,
            held=held,
            returned=returned,
            timed_out=timed_out,
            at=now,
            key=key,
            memo=reason,
        )
        uow.record(tx)
    uow.update_wallet(evolve(wallet, held=wallet.held - held, updated_at=now))
    job = evolve(
        job,
        state=state,
        credits_held=0,
        credits_used=0,
        reason=reason,
        updated_at=now,
        resolved_at=now,
    )
    uow.update_job(job)
    uow.emit(Event(job.wallet_id, EventType(f"job.{state}"), job.id, now, {"released": held}))
    return job, Outcome.RELEASED


def open_job(
    uow: WriteUnit,
    wallet: Wallet,
    job_id: str,
    asked: SubmitJob,
    priced: Quote,
    now: datetime,
    hold_ttl: timedelta,
    key: str,
) -> Job:
    """Submit: hold the quote's total on the wallet and record the pending job."""
    amount = priced.total_credits
    legs: tuple[HoldLeg, ...] = ()
    # A team member's cap is checked HERE, before the hold, under the wallet lock.
    wallet = teams.admit(uow, wallet, asked.submitted_by, amount, now)
    if amount:
        legs, wallet = spending.take(uow, wallet, amount, now, asked.submitted_by)
    job = uow.insert_job(
        Job(
            id=job_id,
            wallet_id=wallet.id,
            kind="generation",
            model=priced.model,
            state=JobState.PENDING,
            params=asked.params or {},
            generations=priced.generations,
            quote=priced.to_dict(),
            catalog=priced.catalog,
            catalog_version=priced.catalog_version,
            catalog_hash=priced.catalog_hash,
            credits_quoted=amount,
            hold_amount=amount,
            credits_held=amount,
            credits_used=0,
            written_off=0,
            hold_legs=legs,
            hold_expires_at=now + hold_ttl,
            submitted_by=asked.submitted_by,
            metadata=asked.metadata or {},
            reason=None,
            created_at=now,
            updated_at=now,
        )
    )
    if amount:
        uow.record(postings.hold(job_id, wallet.id, legs, at=now, key=Key(asked.scope, key)))
    uow.update_wallet(evolve(wallet, held=wallet.held + amount, updated_at=now))
    payload = {"model": priced.model, "credits_held": amount, "submitted_by": asked.submitted_by}
    uow.emit(Event(wallet.id, EventType.JOB_SUBMITTED, job_id, now, payload))
    teams.attribute(uow, wallet, None, job, now)
    usage.job_changed(uow, None, job, now)
    return job


def free_job(job_id: str, asked: RecordFreeJob, now: datetime) -> Job:
    """Zero-cost usage (scheduling, publishing, ...): a job born succeeded, moving nothing."""
    return Job(
        id=job_id,
        wallet_id=asked.wallet_id,
        kind=asked.kind,
        model=None,
        state=JobState.SUCCEEDED,
        params={},
        generations=0,
        quote=None,
        catalog=None,
        catalog_version=None,
        catalog_hash=None,
        credits_quoted=0,
        hold_amount=0,
        credits_held=0,
        credits_used=0,
        written_off=0,
        hold_legs=(),
        hold_expires_at=None,
        submitted_by=asked.submitted_by,
        metadata={},
        reason=None,
        created_at=now,
        updated_at=now,
        resolved_at=now,
    )


def price_actual(catalogs: CatalogSet, job: Job, asked: CompleteJob) -> int:
    """The charge for what was actually made, on the price quoted at submission.

    What the completion reports is checked as a submission is, on the job's own catalog:
    an unknown or not-offered value, or more generations than the model allows, raises the
    pricing error (422) before anything moves.  When that catalog is gone (its hash
    changed), nothing is repriced on another one, and the generations are still bounded."""
    if not asked.reports_actuals:
        return job.credits_quoted
    gens = job.generations if asked.actual_generations is None else asked.actual_generations
    unit = int(job.quote["unit_credits"]) if job.quote else 0
    scales = unit * job.generations == job.credits_quoted
    catalog = catalogs.get(job.catalog or "")
    stale = catalog is not None and catalog.hash != job.catalog_hash
    if isinstance(catalogs, VersionedCatalogs) and catalog is not None and stale:
        # A price change since the submission: reprice on the version the job was quoted on.
        catalog = catalogs.by_hash(catalog.name, job.catalog_hash) or catalog
    if catalog is not None and catalog.hash == job.catalog_hash and job.model is not None:
        merged = {**job.params, **(asked.actual_params or {})}
        priced = _checked(lambda count: quote(catalog, job.model or "", merged, count), gens)
        if gens == 0:
            return 0
        if not asked.actual_params and scales:
            return unit * gens
        return priced.total_credits
    _checked_generations(gens, _generations_max(catalogs, job))
    if gens == 0:
        return 0
    # The catalog the job was priced on is gone: never reprice on another one.  Scale the
    # quote by generations when it is a per-generation price, else keep the quote.
    return unit * gens if scales else job.credits_quoted


def _checked(price: Callable[[int], Quote], gens: int) -> Quote:
    """``price(gens)``, with a refusal of the count named as the completion's field.  No
    generation at all (0) is checked as one: the settings must still be offered."""
    try:
        return price(max(gens, 1))
    except ValueNotOffered as exc:
        if exc.details.get("field") != "generations":
            raise
        most = str(exc.details.get("allowed")).rsplit(" ", 1)[-1]  # "1 to <the model's max>"
        raise ValueNotOffered.for_field("actual_generations", gens, f"0 to {most}") from None


def _generations_max(catalogs: CatalogSet, job: Job) -> int:
    """The bound on a completion's generations once the job's catalog has changed: the
    model's maximum in the catalog of that name now, else what any model may allow."""
    catalog = catalogs.get(job.catalog or "")
    if catalog is None or job.model is None or not catalog.has(job.model):
        return limits.GENERATIONS_MAX
    modes = catalog.find(job.model).modes.values()
    return max(mode.accepts.generations_max for mode in modes)


def _checked_generations(gens: int, most: int) -> None:
    if gens > most:
        raise ValueNotOffered.for_field("actual_generations", gens, f"0 to {most}")
