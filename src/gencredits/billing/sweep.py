"""The sweep: release holds past their time limit, expire grants past their expiry, and
announce grants entering a wallet's ``expiring_days`` window (``alert.grant_expiring``) to
wallets nobody touches (see :mod:`.alerts`), and delete idempotency records past their
retention, outbox events past theirs that every consumer has passed and finished webhook
deliveries as old (bounded batches;
docs/ledger.md, "Retention").

Each item is its own unit of work under its wallet's lock and re-checks its state, so many
sweepers may run at once: an item is handled by exactly one of them.  Items go through the
runner's one retry policy (``unavailable`` after the limit, as every call).  One call looks
at no more than :data:`~gencredits.limits.SWEEP_ITEMS_MAX` items (the announcements: opens no
more units than what is left of that budget); ``more`` says to call again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from gencredits import limits
from gencredits.ledger.model import GrantState, Job, JobState, Wallet
from gencredits.ledger.postings import Key
from gencredits.ledger.store import LedgerReader, UnitHints, WriteUnit

from . import alerts, grants, jobs
from .runner import UnitRunner
from .spending import SpendPolicy
from .views import SweepReport

__all__ = ["sweep"]

ItemUnit = Callable[[WriteUnit, Wallet], int | None]


def sweep(
    runner: UnitRunner,
    policy: SpendPolicy,
    at: datetime,
    idempotency_retention: timedelta,
    outbox_retention: timedelta,
) -> SweepReport:
    holds, released, seen, _done = _sweep_due(
        runner,
        lambda reader: reader.due_holds(at, limit=limits.SWEEP_BATCH),
        lambda job_id, wallet_id: (
            UnitHints(wallet_id=wallet_id, job_id=job_id),
            f"job:{job_id}",
            lambda uow, wallet: _timeout(uow, wallet, job_id, at, policy),
        ),
        limits.SWEEP_ITEMS_MAX,
    )
    expired_grants, expired, more_seen, done = _sweep_due(
        runner,
        lambda reader: reader.due_grants(at, limit=limits.SWEEP_BATCH),
        lambda grant_id, wallet_id: (
            UnitHints(wallet_id=wallet_id, grant_id=grant_id),
            f"grant:{grant_id}",
            lambda uow, wallet: _expire(uow, wallet, grant_id, at),
        ),
        limits.SWEEP_ITEMS_MAX - seen,
    )
    seen += more_seen
    announced, announced_all = _announce_expiring(runner, at, limits.SWEEP_ITEMS_MAX - seen)
    store = runner.store
    forgotten, forgot_all = _forget(partial(store.forget_idempotency, at - idempotency_retention))
    dropped, dropped_all = _forget(partial(store.forget_events, at - outbox_retention))
    outbound = store.outbound()
    logged, logged_all = _forget(partial(outbound.forget_deliveries, at - outbox_retention))
    return SweepReport(
        holds_released=holds,
        credits_released=released,
        grants_expired=expired_grants,
        credits_expired=expired,
        expiry_alerts=announced,
        idempotency_records_deleted=forgotten,
        outbox_events_deleted=dropped,
        webhook_deliveries_deleted=logged,
        more=not (done and announced_all and forgot_all and dropped_all and logged_all)
        or seen >= limits.SWEEP_ITEMS_MAX,
    )


def _forget(delete: Callable[..., int]) -> tuple[int, bool]:
    """Delete rows past their retention with ``delete(limit=...)``, in batches of
    :data:`~gencredits.limits.RETENTION_BATCH` rows, at most
    :data:`~gencredits.limits.RETENTION_BATCHES` batches: (rows deleted, all done)."""
    deleted = 0
    for _batch in range(limits.RETENTION_BATCHES):
        gone = delete(limit=limits.RETENTION_BATCH)
        deleted += gone
        if gone < limits.RETENTION_BATCH:
            return deleted, True
    return deleted, False


def _sweep_due(
    runner: UnitRunner,
    due: Callable[[LedgerReader], list[tuple[str, str]]],
    unit_for: Callable[[str, str], tuple[UnitHints, str, ItemUnit]],
    budget: int,
) -> tuple[int, int, int, bool]:
    """Handle due (item id, wallet id) pairs page by page, looking at no more than
    ``budget``: (items handled, credits they moved, items looked at, all done)."""
    handled = moved = seen = 0
    while seen < budget:
        page = runner.read(lambda reader, _now: due(reader))
        for item_id, wallet_id in page:
            hints, scope, fn = unit_for(item_id, wallet_id)
            amount = runner.write(_locked(wallet_id, fn), hints, operation="sweep", scope=scope)
            if amount is not None:
                handled, moved = handled + 1, moved + amount
        seen += len(page)
        if len(page) < limits.SWEEP_BATCH:
            return handled, moved, seen, True
    return handled, moved, seen, False


Found = list[tuple[str, str, datetime]]
#: The alert rule the sweep announces for: the ``expiring_days`` of the ``alerts`` document.
RULE = (alerts.ALERTS, "expiring_days")


def _announce_expiring(runner: UnitRunner, at: datetime, budget: int) -> tuple[int, bool]:
    """Announce the grants entering their wallet's window, one unit per wallet that has one
    not announced yet (no more than ``budget`` units): (grants announced, all done)."""
    days = runner.read(lambda reader, _now: reader.state_field_max(*RULE))
    if days is None:
        return 0, True  # no wallet asks: no grant is read
    until = at + timedelta(days=min(days, alerts.EXPIRING_DAYS_MAX))
    start: tuple[datetime, str] | None = None
    announced = units = 0
    while True:
        found, wallets = runner.read(partial(_expiring_page, at=at, until=until, start=start))
        for wallet_id in wallets:
            if units >= budget:
                return announced, False
            fn = _locked(wallet_id, partial(_announce, at=at))
            hints = UnitHints(wallet_id=wallet_id)
            count = runner.write(fn, hints, operation="sweep", scope=f"expiring:{wallet_id}")
            announced, units = announced + (count or 0), units + 1
        if len(found) < limits.SWEEP_BATCH:
            return announced, True
        start = (found[-1][2], found[-1][0])


def _expiring_page(
    reader: LedgerReader,
    _now: datetime,
    *,
    at: datetime,
    until: datetime,
    start: tuple[datetime, str] | None,
) -> tuple[Found, list[str]]:
    """One page of live grants expiring within the widest window asked for, of wallets
    with the rule, and the wallets among them with one to announce."""
    found = reader.grants_expiring_within(
        at, until, rule=RULE, start=start, limit=limits.SWEEP_BATCH
    )
    return found, alerts.unannounced(reader, found, at)


def _announce(uow: WriteUnit, wallet: Wallet, *, at: datetime) -> int:
    return alerts.announce_expiring(uow, wallet.id, at)


def _locked(wallet_id: str, fn: ItemUnit) -> Callable[[WriteUnit], int | None]:
    def unit(uow: WriteUnit) -> int | None:
        wallet = uow.lock_wallet(wallet_id)
        assert wallet is not None
        return fn(uow, wallet)

    return unit


def _timeout(
    uow: WriteUnit, wallet: Wallet, job_id: str, at: datetime, policy: SpendPolicy
) -> int | None:
    job: Job | None = uow.get_job(job_id)
    if job is None or job.state != JobState.PENDING:
        return None  # another sweeper, or a callback, resolved it first
    if job.hold_expires_at is None or job.hold_expires_at > at:
        return None
    step = jobs.next_step(job, jobs.JobEvent.TIMEOUT)
    jobs.apply(uow, wallet, job, step, jobs.Resolution(reason="hold timed out"), at, policy)
    alerts.watch(uow, wallet.id, at)
    return job.credits_held


def _expire(uow: WriteUnit, wallet: Wallet, grant_id: str, at: datetime) -> int | None:
    grant = uow.get_grant(grant_id)
    if grant is None or grant.state != GrantState.ACTIVE:
        return None
    if grant.expires_at is None or grant.expires_at > at:
        return None
    grants.close(uow, wallet, grant, voided=False, at=at, key=Key())
    alerts.watch(uow, wallet.id, at)  # an expiry can cross a level too
    return grant.remaining
