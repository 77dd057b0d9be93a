"""The billing service: wallets, grants and the job lifecycle on top of the ledger.

Each method reads as: check the input (:mod:`.inputs`), then one unit of work through the
runner (:mod:`.runner`: the wallet lock, the idempotency key, one retry policy) whose body
applies the rules (:mod:`.jobs` for the lifecycle, :mod:`.grants` for grants, the pure
collector and posting templates of :mod:`gencredits.ledger`).  Reads go through one reader
each (:mod:`.reads`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, TypedDict

from typing_extensions import Unpack

from gencredits import limits
from gencredits.clock import Clock, SystemClock
from gencredits.errors import InvalidRequest, WalletExists, WalletFrozen
from gencredits.ledger.model import (
    DEFAULT_KIND_PRIORITIES,
    Event,
    EventType,
    GrantState,
    IdempotencyRecord,
    Wallet,
)
from gencredits.ledger.postings import Key
from gencredits.ledger.store import (
    AuditScope,
    GrantQuery,
    LedgerStore,
    WriteUnit,
)
from gencredits.plans import PlanCatalog, bundled_plans
from gencredits.pricing import CatalogSet, Quote, quote

from . import grants, jobs, reads, usage
from .alert_ops import AlertOperations
from .audit_run import AuditRun, run_audit
from .catalog_versions import catalogs_for_quote
from .ids import job_id_for
from .inputs import (
    CancelJob,
    CompleteJob,
    CreateWallet,
    FailJob,
    GrantCredits,
    RecordFreeJob,
    SubmitJob,
    VoidGrant,
    check_id,
    check_int,
    check_job_id,
    check_share,
    check_time,
)
from .plan_service import PlanBilling
from .runner import Done, Later, UnitRunner, need_wallet
from .spending import SpendPolicy
from .team_ops import TeamOperations
from .views import (
    EntryView,
    GrantView,
    JobView,
    ListOrder,
    Outcome,
    Page,
    SweepReport,
    Violation,
    WalletView,
)
from .webhook_ops import WebhookOperations

__all__ = ["Billing", "BillingOptions"]


class BillingOptions(TypedDict, total=False):
    """The keyword options of :class:`Billing`, as :meth:`Billing.from_url` passes them on."""

    default_hold_ttl_s: int
    hold_ttl_by_model: Mapping[str, int] | None
    kind_priorities: Mapping[str, int] | None
    refund_grant_ttl_s: int | None
    max_hold_ttl_s: int
    extra_charge_share: Decimal | int
    plans: PlanCatalog | None
    idempotency_retention_days: int
    outbox_retention_days: int


class Billing(PlanBilling, TeamOperations, AlertOperations, WebhookOperations):
    """The one public service: wallets, grants, job billing, history, sweep and audit."""

    def __init__(
        self,
        store: LedgerStore,
        catalogs: CatalogSet | None = None,
        clock: Clock | None = None,
        *,
        default_hold_ttl_s: int = limits.HOLD_TTL_S_DEFAULT,
        hold_ttl_by_model: Mapping[str, int] | None = None,
        kind_priorities: Mapping[str, int] | None = None,
        refund_grant_ttl_s: int | None = None,
        max_hold_ttl_s: int = limits.HOLD_TTL_S_MAX,
        extra_charge_share: Decimal | int = 0,
        plans: PlanCatalog | None = None,
        idempotency_retention_days: int = limits.IDEMPOTENCY_RETENTION_DAYS_DEFAULT,
        outbox_retention_days: int = limits.OUTBOX_RETENTION_DAYS_DEFAULT,
    ) -> None:
        """
        ``hold_ttl_by_model`` overrides the hold time limit per model id; a wallet's own
        ``hold_ttl_s`` overrides the service default; a submit's ``hold_ttl_s`` overrides both.
        ``kind_priorities`` replaces :data:`DEFAULT_KIND_PRIORITIES` (lower is spent first).
        ``refund_grant_ttl_s``: lifetime of the credit returned when a released hold's grant
        expired meanwhile (``None``: it never expires).  ``max_hold_ttl_s``: the operator's
        ceiling on any hold's time limit (at most the ledger's own, a week).
        ``extra_charge_share``: how much a completion may charge beyond its hold, as a share
        of the job's quote (a ``Decimal``; a wallet's own share overrides it).  The default,
        0, charges at most the hold and writes the rest off.  ``idempotency_retention_days``:
        how long the sweep keeps an idempotency record (at least 7).  ``outbox_retention_days``:
        how long it keeps an outbox event every consumer has passed (at least 1).
        """
        self.store = store
        self.catalogs = catalogs if catalogs is not None else CatalogSet.bundled()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.max_hold_ttl_s = check_int("max_hold_ttl_s", max_hold_ttl_s, 1, limits.HOLD_TTL_S_MAX)
        self.default_hold_ttl_s = check_int(
            "default_hold_ttl_s", default_hold_ttl_s, 1, self.max_hold_ttl_s
        )
        self.hold_ttl_by_model = dict(hold_ttl_by_model or {})
        self.kind_priorities = dict(kind_priorities or DEFAULT_KIND_PRIORITIES)
        self.refund_grant_ttl_s = refund_grant_ttl_s
        self.extra_charge_share = check_share("extra_charge_share", extra_charge_share)
        self.idempotency_retention = timedelta(
            days=check_int(
                "idempotency_retention_days",
                idempotency_retention_days,
                limits.IDEMPOTENCY_RETENTION_DAYS_MIN,
                36500,
            )
        )
        self.outbox_retention = timedelta(
            days=check_int(
                "outbox_retention_days",
                outbox_retention_days,
                limits.OUTBOX_RETENTION_DAYS_MIN,
                36500,
            )
        )
        self._policy = SpendPolicy(self.kind_priorities, refund_grant_ttl_s)
        self._runner = UnitRunner(store, self.clock)
        #: the plans and packs subscriptions and purchases use (``plans``: the bundled example)
        self.plan_catalog = plans if plans is not None else bundled_plans()

    @classmethod
    def from_url(
        cls,
        database_url: str | None = None,
        catalogs: CatalogSet | None = None,
        clock: Clock | None = None,
        *,
        group_commit: bool = False,
        **options: Unpack[BillingOptions],
    ) -> Billing:
        """A service on the database at ``database_url`` (default: env, then the SQLite file),
        migrated to the newest schema first.  ``group_commit``: batch the writes of this
        process into shared transactions (see :mod:`gencredits.storage.sql.batch`)."""
        from gencredits.ledger.store import open_store

        return cls(open_store(database_url, group_commit=group_commit), catalogs, clock, **options)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ replays
    @staticmethod
    def _replay_job(uow: WriteUnit, record: IdempotencyRecord, _now: datetime) -> JobView:
        job = reads.find_job(uow, record.result_id)
        return JobView.of(job, outcome=record.outcome, replayed=True)

    @staticmethod
    def _replay_grant(uow: WriteUnit, record: IdempotencyRecord, now: datetime) -> GrantView:
        grant = reads.find_grant(uow, record.result_id)
        return GrantView.of(grant, now, outcome=record.outcome, replayed=True)

    @staticmethod
    def _replay_wallet(uow: WriteUnit, record: IdempotencyRecord, now: datetime) -> WalletView:
        return reads.wallet_view(uow, record.result_id, now).as_replayed()

    # ------------------------------------------------------------------ wallets
    def create_wallet(
        self,
        wallet_id: str,
        *,
        owner_kind: str = "user",
        overdraft_limit: int = 0,
        hold_ttl_s: int | None = None,
        extra_charge_share: Decimal | int | None = None,
        idempotency_key: str | None = None,
    ) -> WalletView:
        """Create a wallet.  Creating an existing wallet with the same settings returns it;
        with different settings it is a ``wallet_exists`` conflict.  ``extra_charge_share``
        overrides the service's for this wallet's completions (``None``: the service's)."""
        share = None
        if extra_charge_share is not None:
            share = check_share("extra_charge_share", extra_charge_share)
        asked = CreateWallet(
            wallet_id, owner_kind, overdraft_limit, hold_ttl_s, share, self.max_hold_ttl_s
        )
        settings = (owner_kind, overdraft_limit, hold_ttl_s, share)

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[WalletView]:
            if wallet is not None:
                has = (wallet.owner_kind, wallet.overdraft_limit, wallet.hold_ttl_s)
                if (*has, wallet.extra_charge_share) != settings:
                    raise WalletExists(
                        f"wallet_id: {wallet_id!r} already exists with other settings",
                        details={"field": "wallet_id", "value": wallet_id},
                    )
                view = reads.wallet_view(uow, wallet_id, now).as_replayed()
                return Done(view, "wallet", wallet_id, Outcome.EXISTS)
            uow.insert_wallet(
                Wallet(wallet_id, owner_kind, overdraft_limit, hold_ttl_s, 0, 0, now, now, share)
            )
            uow.emit(Event(wallet_id, EventType.WALLET_CREATED, wallet_id, now, asked.request()))
            view = reads.wallet_view(uow, wallet_id, now)
            return Done(view, "wallet", wallet_id, Outcome.CREATED)

        return self._runner.run(
            asked,
            key=idempotency_key,
            body=body,
            replay=self._replay_wallet,
        )

    def get_wallet(self, wallet_id: str) -> WalletView:
        check_id("wallet_id", wallet_id)
        return self._runner.read(lambda reader, now: reads.wallet_view(reader, wallet_id, now))

    def list_wallets(
        self, *, cursor: str | None = None, limit: int = 50, order: ListOrder = "asc"
    ) -> Page[WalletView]:
        """Wallets by id (``order="desc"``: z to a)."""
        check_int("limit", limit, 1, limits.PAGE_MAX)
        reads.decode_cursor(reads.cursor_kind("w", reads.check_order(order)), cursor)
        return self._runner.read(lambda r, now: reads.wallet_page(r, cursor, limit, now, order))

    # ------------------------------------------------------------------ grants
    def grant(
        self,
        wallet_id: str,
        amount: int,
        *,
        kind: str,
        priority: int | None = None,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        source: str | None = None,
        idempotency_key: str,
    ) -> GrantView:
        """Add ``amount`` credits to the wallet as a grant of ``kind``.  A wallet in overdraft
        repays its debt from the new grant first (when the grant is already effective)."""
        asked = GrantCredits(
            wallet_id,
            amount,
            kind,
            self.kind_priorities,
            priority,
            expires_at,
            effective_at,
            source,
        )

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[GrantView]:
            wallet = need_wallet(wallet, wallet_id)
            grant = grants.issue(uow, wallet, asked, idempotency_key, now)
            return Done(
                GrantView.of(grant, now, outcome=Outcome.GRANTED),
                "grant",
                grant.id,
                Outcome.GRANTED,
            )

        return self._runner.run(
            asked,
            key=idempotency_key,
            body=body,
            replay=self._replay_grant,
        )

    def void_grant(self, grant_id: str, *, idempotency_key: str) -> GrantView:
        """Take back what is left of a grant (to ``issued``).  Credits of it that are held
        return to ``issued`` too when their hold is released, never to the wallet."""
        asked = VoidGrant(grant_id)

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[GrantView]:
            grant = reads.find_grant(uow, grant_id)
            if grant.state != GrantState.ACTIVE:
                outcome = Outcome.already(grant.state)
                return Done(GrantView.of(grant, now, outcome=outcome), "grant", grant_id, outcome)
            key = Key(asked.scope, idempotency_key)
            owner = need_wallet(wallet, grant.wallet_id)
            voided = grants.close(uow, owner, grant, voided=True, at=now, key=key)
            view = GrantView.of(voided, now, outcome=Outcome.VOIDED)
            return Done(view, "grant", grant_id, Outcome.VOIDED)

        return self._runner.run(
            asked,
            key=idempotency_key,
            body=body,
            replay=self._replay_grant,
            locate=lambda uow: reads.find_grant(uow, grant_id).wallet_id,
        )

    def list_grants(
        self,
        wallet_id: str,
        *,
        active: bool | None = None,
        kind: str | None = None,
        expiring_before: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[GrantView]:
        """A page of the wallet's grants, newest first; ``active``: True for the live ones
        (active, with credit left), False for the others (spent, expired, voided);
        ``kind``; ``expiring_before``: those with an expiry before that instant."""
        check_id("wallet_id", wallet_id)
        check_int("limit", limit, 1, limits.PAGE_MAX)
        if active is not None and not isinstance(active, bool):
            raise InvalidRequest.for_field("active", active, "true or false")
        if kind is not None and kind not in self.kind_priorities:
            raise InvalidRequest.for_field(
                "kind", kind, f"one of {', '.join(sorted(self.kind_priorities))}"
            )
        before = None if expiring_before is None else check_time("expiring_before", expiring_before)
        reads.decode_cursor("g", cursor)
        query = GrantQuery(live=active, kind=kind, expiring_before=before)
        return self._runner.read(
            lambda r, now: reads.grant_page(r, wallet_id, query, (cursor, limit), now)
        )

    # ------------------------------------------------------------------ jobs
    def _hold_ttl_s(self, wallet: Wallet, model: str, override: int | None) -> int:
        if override is not None:
            return override
        if model in self.hold_ttl_by_model:
            return self.hold_ttl_by_model[model]
        if wallet.hold_ttl_s is not None:
            return wallet.hold_ttl_s
        return self.default_hold_ttl_s

    def submit(
        self,
        wallet_id: str,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
        submitted_by: str | None = None,
        idempotency_key: str,
        hold_ttl_s: int | None = None,
        metadata: Mapping[str, str] | None = None,
        quote_hash: str | None = None,
    ) -> JobView:
        """Quote the request and hold its total on the wallet: a pending job (status 0).
        ``quote_hash``: the ``catalog_hash`` of the quote the caller showed; across a price
        change it is honoured or refused (``quote_expired``) as docs/catalog-versions.md says."""
        asked = SubmitJob(
            wallet_id,
            model,
            params,
            generations,
            catalog,
            submitted_by,
            hold_ttl_s,
            metadata,
            max_hold_ttl_s=self.max_hold_ttl_s,
        )
        # The price depends on the request alone: worked out here, by the caller, not under
        # the wallet's lock.  A pricing error is raised where it always was (after the wallet
        # check, and never on a replay), so the order of errors does not change.
        priced: Quote | Exception
        try:
            where = catalogs_for_quote(self.catalogs, quote_hash, catalog)
            priced = quote(where, model, asked.params, generations)
        except Exception as exc:  # re-raised inside the unit, unchanged
            priced = exc

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[JobView]:
            wallet = need_wallet(wallet, wallet_id)
            if wallet.frozen is not None:
                raise WalletFrozen(wallet_id, wallet.frozen)
            if isinstance(priced, Exception):
                raise priced
            job_id = job_id_for(now, wallet_id, idempotency_key)
            ttl = self._hold_ttl_s(wallet, priced.model, hold_ttl_s)
            job = jobs.open_job(
                uow, wallet, job_id, asked, priced, now, timedelta(seconds=ttl), idempotency_key
            )
            later = Later(partial(JobView.of, job, outcome=Outcome.HELD))
            return Done(later, "job", job_id, Outcome.HELD)

        return self._runner.run(
            asked,
            key=idempotency_key,
            body=body,
            replay=self._replay_job,
        )

    def record_free_job(
        self,
        wallet_id: str,
        kind: str,
        *,
        submitted_by: str | None = None,
        idempotency_key: str,
    ) -> JobView:
        """Record zero-cost usage (scheduling, publishing, voiceover) so it shows in usage."""
        asked = RecordFreeJob(wallet_id, kind, submitted_by)

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[JobView]:
            need_wallet(wallet, wallet_id)
            job_id = job_id_for(now, wallet_id, idempotency_key)
            job = uow.insert_job(jobs.free_job(job_id, asked, now))
            usage.job_changed(uow, None, job, now)
            uow.emit(Event(wallet_id, EventType.JOB_RECORDED, job_id, now, {"kind": kind}))
            return Done(JobView.of(job, outcome=Outcome.RECORDED), "job", job_id, Outcome.RECORDED)

        return self._runner.run(
            asked,
            key=idempotency_key,
            body=body,
            replay=self._replay_job,
        )

    def _callback(
        self,
        asked: CompleteJob | FailJob | CancelJob,
        event: jobs.JobEvent,
        key: str,
        how: jobs.Resolution,
    ) -> JobView:
        job_id = asked.job_id

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[JobView]:
            job = reads.find_job(uow, job_id)
            assert wallet is not None
            resolution = how
            if isinstance(asked, CompleteJob):  # checked first, whatever the job's state
                charge = jobs.price_actual(self.catalogs, job, asked)
                share = wallet.extra_charge_share
                share = self.extra_charge_share if share is None else share
                limit = jobs.charge_limit(job, share)
                resolution = jobs.Resolution(charge, key=key, limit=limit)
            step = jobs.next_step(job, event)
            job, outcome = jobs.apply(uow, wallet, job, step, resolution, now, self._policy)
            return Done(Later(partial(JobView.of, job, outcome=outcome)), "job", job_id, outcome)

        return self._runner.run(
            asked,
            key=key,
            body=body,
            replay=self._replay_job,
            locate=lambda uow: reads.find_job(uow, job_id).wallet_id,
        )

    def complete(
        self,
        job_id: str,
        *,
        actual_params: Mapping[str, object] | None = None,
        actual_generations: int | None = None,
        idempotency_key: str,
    ) -> JobView:
        """The provider delivered: capture the hold (status 1).

        ``actual_params`` / ``actual_generations`` report what was really made; they are
        checked as a submission is, on the job's model in its catalog (unknown or not-offered
        values, too many generations: a 422 before anything moves), and priced on the
        submission's quote.  Capturing less releases the rest.  Costing more: by default at
        most the hold is charged and the rest written off; with an ``extra_charge_share``
        (the wallet's, else the service's) up to that share of the quote (rounded down) is
        charged beyond the hold when the wallet can pay it, the rest written off.  After a
        timeout the charge (within the same limit) is taken if the wallet can pay it, else
        written off.
        """
        asked = CompleteJob(job_id, actual_params, actual_generations)
        how = jobs.Resolution(key=idempotency_key)
        return self._callback(asked, jobs.JobEvent.COMPLETE, idempotency_key, how)

    def fail(self, job_id: str, *, reason: str | None = None, idempotency_key: str) -> JobView:
        """The provider failed: release the whole hold to the grants it came from (status 2).
        A failure after a success or a timeout changes nothing."""
        asked = FailJob(job_id, reason)
        how = jobs.Resolution(reason=reason, key=idempotency_key)
        return self._callback(asked, jobs.JobEvent.FAIL, idempotency_key, how)

    def cancel(self, job_id: str, *, idempotency_key: str) -> JobView:
        """Cancel a pending job: released like a failure.  A finished job cannot be cancelled
        (``invalid_transition``); cancelling a failed or timed-out job changes nothing."""
        asked = CancelJob(job_id)
        how = jobs.Resolution(reason="cancelled", key=idempotency_key)
        return self._callback(asked, jobs.JobEvent.CANCEL, idempotency_key, how)

    def get_job(self, job_id: str) -> JobView:
        check_job_id("job_id", job_id)
        return self._runner.read(lambda reader, _now: JobView.of(reads.find_job(reader, job_id)))

    def list_jobs(
        self,
        wallet_id: str,
        *,
        status: int | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        order: ListOrder = "desc",
    ) -> Page[JobView]:
        """The wallet's jobs, newest first (``order="asc"``: oldest first), optionally by
        numbered status or state name."""
        check_id("wallet_id", wallet_id)
        check_int("limit", limit, 1, limits.PAGE_MAX)
        states = reads.job_states(status, state)
        reads.int_cursor(reads.cursor_kind("j", reads.check_order(order)), cursor)
        return self._runner.read(
            lambda reader, _now: reads.job_page(reader, wallet_id, states, cursor, limit, order)
        )

    # ------------------------------------------------------------------ history, outbox
    def history(
        self,
        wallet_id: str,
        *,
        cursor: str | None = None,
        limit: int = 50,
        order: ListOrder = "desc",
    ) -> Page[EntryView]:
        """The wallet's ledger transactions, newest first (``order="asc"``: oldest first),
        with their balanced postings."""
        check_id("wallet_id", wallet_id)
        check_int("limit", limit, 1, limits.PAGE_MAX)
        reads.int_cursor(reads.cursor_kind("h", reads.check_order(order)), cursor)
        return self._runner.read(
            lambda reader, _now: reads.history_page(reader, wallet_id, cursor, limit, order)
        )

    def events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        """Committed outbox events in delivery order (for webhooks, alerts, reports).

        Resume with ``after=<the last event's cursor>``: an event that commits later never
        sorts before one already handed out, so a consumer misses and repeats nothing."""
        check_int("limit", limit, 1, limits.EVENTS_PAGE_MAX)
        reads.event_position(after)
        return self._runner.read(lambda reader, _now: reads.events(reader, after, limit))

    # ------------------------------------------------------------------ sweep, audit
    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Release holds past their time limit and expire grants past their expiry
        (see :mod:`gencredits.billing.sweep`)."""
        from .sweep import sweep

        at = self.clock.now() if now is None else check_time("now", now)
        # Renewals first: a rollover reads what is left of the ended cycle's allowance
        # before the sweep expires it.
        self.tick(at)
        return sweep(
            self._runner, self._policy, at, self.idempotency_retention, self.outbox_retention
        )

    def audit(self) -> list[Violation]:
        """Check every invariant of the ledger; an empty list means clean."""
        return self.audit_scoped(AuditScope()).violations

    def audit_scoped(
        self, scope: AuditScope, *, progress: Callable[[int], None] | None = None
    ) -> AuditRun:
        """Audit every wallet, a range of them or those changed since a cursor, a page of
        wallets at a time in one snapshot (:mod:`.audit_run`)."""
        return self._runner.read(
            lambda reader, now: run_audit(
                reader, now, scope, progress=progress, keys_since=now - self.idempotency_retention
            )
        )


if TYPE_CHECKING:
    from .protocol import BillingAPI

    def _implements(billing: Billing) -> BillingAPI:  # mypy checks Billing against the protocol
        return billing
