"""The auditor: every ledger invariant, checked from a snapshot, all problems at once.

Balances are projections of the entries; the materialised numbers (grant remaining, wallet
held and debt, job credits) are caches that must equal them, and a wallet's grant totals
(its live grants' count and remaining by kind, the figure its balance is read from) must
equal what its grants say.  Codes are stable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime

from gencredits.ledger.model import (
    ACCOUNT_CONSUMED,
    ACCOUNT_EXPIRED,
    ACCOUNT_ISSUED,
    ACCOUNT_WRITTEN_OFF,
    GrantState,
    Job,
    JobState,
    TransactionKind,
    grant_account,
    hold_account,
    overdraft_account,
)
from gencredits.ledger.store import AuditSnapshot, AuditTotals

from .views import Violation

__all__ = ["audit_snapshot", "audit_totals"]

_RESOLUTIONS = (TransactionKind.CAPTURE, TransactionKind.RELEASE, TransactionKind.TIMEOUT)
_LATE = (TransactionKind.LATE_CAPTURE, TransactionKind.WRITE_OFF)


def audit_snapshot(s: AuditSnapshot, now: datetime, *, whole: bool = True) -> list[Violation]:
    """Every violation in the snapshot, all at once (an empty list: clean).  ``whole=False``:
    the snapshot is of some wallets only (:meth:`LedgerReader.audit_snapshot` given their
    ids), so the ledger-wide sums are left to :func:`audit_totals`."""
    auditor = _Auditor(s, now)
    auditor.ledger(whole)
    auditor.grants()
    auditor.jobs(whole)
    auditor.wallets()
    auditor.accounts_and_keys(whole)
    return auditor.out


def audit_totals(totals: AuditTotals) -> list[Violation]:
    """The ledger-wide checks of an audit of everything, from the store's sums."""
    out: list[Violation] = []
    bal = totals.system_balances
    if totals.grand_total != 0:
        out.append(
            Violation(
                code="ledger_not_zero_sum",
                subject="ledger",
                message=f"all entries sum to {totals.grand_total}, not 0",
            )
        )
    out += _system_signs(bal)
    if bal.get(ACCOUNT_CONSUMED, 0) != totals.consumed_by_jobs:
        message = f"account {bal.get(ACCOUNT_CONSUMED, 0)}, jobs {totals.consumed_by_jobs}"
        out.append(Violation(code="consumed_mismatch", subject=ACCOUNT_CONSUMED, message=message))
    for account in totals.unknown_accounts:
        message = "entries on an account no wallet, grant or job owns"
        out.append(Violation(code="unknown_account", subject=account, message=message))
    return out


def _system_signs(bal: Mapping[str, int]) -> list[Violation]:
    out = []
    for account in (ACCOUNT_ISSUED, ACCOUNT_WRITTEN_OFF):
        if bal.get(account, 0) > 0:
            message = f"balance {bal[account]} should be <= 0"
            out.append(Violation(code="system_account_sign", subject=account, message=message))
    for account in (ACCOUNT_CONSUMED, ACCOUNT_EXPIRED):
        if bal.get(account, 0) < 0:
            message = f"balance {bal[account]} should be >= 0"
            out.append(Violation(code="system_account_sign", subject=account, message=message))
    return out


class _Auditor:
    def __init__(self, s: AuditSnapshot, now: datetime) -> None:
        self.s, self.now, self.bal = s, now, s.account_balances
        self.out: list[Violation] = []
        self.known: set[str] = {
            ACCOUNT_ISSUED,
            ACCOUNT_CONSUMED,
            ACCOUNT_EXPIRED,
            ACCOUNT_WRITTEN_OFF,
        }
        self.spendable: dict[str, int] = defaultdict(int)
        self.held_by_wallet: dict[str, int] = defaultdict(int)
        #: wallet -> kind -> [live grants, remaining], from the grants themselves
        self.live_by_wallet: dict[str, dict[str, list[int]]] = defaultdict(dict)

    def bad(self, code: str, subject: str, message: str) -> None:
        self.out.append(Violation(code=code, subject=subject, message=message))

    def ledger(self, whole: bool) -> None:
        bal, bad = self.bal, self.bad
        for tx_id, total in self.s.unbalanced_transactions:
            bad("transaction_unbalanced", tx_id, f"entries sum to {total}, not 0")
        if not whole:
            return
        grand = sum(bal.values())
        if grand != 0:
            bad("ledger_not_zero_sum", "ledger", f"all entries sum to {grand}, not 0")
        self.out += _system_signs(bal)

    def grants(self) -> None:
        bad = self.bad
        for g in self.s.grants:
            account = grant_account(g.id)
            self.known.add(account)
            actual = self.bal.get(account, 0)
            if g.remaining != actual:
                bad(
                    "grant_balance_mismatch",
                    g.id,
                    f"remaining {g.remaining} but entries say {actual}",
                )
            if not 0 <= g.remaining <= g.amount:
                bad("grant_remaining_out_of_range", g.id, f"remaining {g.remaining} of {g.amount}")
            if g.state != GrantState.ACTIVE and g.remaining != 0:
                bad("closed_grant_not_empty", g.id, f"{g.state} grant still has {g.remaining}")
            if g.spendable_at(self.now):
                self.spendable[g.wallet_id] += g.remaining
            if g.live:
                total = self.live_by_wallet[g.wallet_id].setdefault(g.kind, [0, 0])
                total[0] += 1
                total[1] += g.remaining

    def jobs(self, whole: bool) -> None:
        consumed_by_jobs = 0
        for j in self.s.jobs:
            account = hold_account(j.id)
            self.known.add(account)
            actual = self.bal.get(account, 0)
            self.held_by_wallet[j.wallet_id] += actual
            consumed_by_jobs += j.credits_used + j.written_off
            if j.credits_held != actual:
                self.bad(
                    "hold_balance_mismatch",
                    j.id,
                    f"credits_held {j.credits_held}, entries {actual}",
                )
            self.job_transactions(j)
        consumed = self.bal.get(ACCOUNT_CONSUMED, 0)
        if whole and consumed != consumed_by_jobs:
            self.bad(
                "consumed_mismatch",
                ACCOUNT_CONSUMED,
                f"account {consumed}, jobs {consumed_by_jobs}",
            )

    def job_transactions(self, j: Job) -> None:
        bad = self.bad
        kinds = Counter(self.s.job_transactions.get(j.id, ()))
        holds = kinds[TransactionKind.HOLD]
        resolutions = sum(kinds[k] for k in _RESOLUTIONS)
        late = sum(kinds[k] for k in _LATE)
        if holds != (1 if j.hold_amount else 0):
            bad("hold_count", j.id, f"{holds} hold transactions for a hold of {j.hold_amount}")
        if j.state == JobState.PENDING:
            legs = sum(leg.amount for leg in j.hold_legs)
            if resolutions or late:
                bad("pending_job_resolved", j.id, "a pending job has a resolving transaction")
            if not j.credits_held == j.hold_amount == legs:
                bad("hold_legs_mismatch", j.id, f"held {j.credits_held}, legs {legs}")
        else:
            if j.credits_held != 0:
                bad("resolved_job_still_held", j.id, f"{j.state} job holds {j.credits_held}")
            if resolutions > 1:
                bad("hold_resolved_more_than_once", j.id, f"{resolutions} resolutions")
            if j.hold_amount and resolutions == 0:
                bad("hold_not_resolved", j.id, f"{j.state} job's hold was never resolved")
        if late > (1 if j.state == JobState.SUCCEEDED_AFTER_TIMEOUT else 0):
            bad("late_charge_count", j.id, f"{late} late charges in state {j.state}")
        if j.state in (JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT) and (
            j.credits_used or j.written_off
        ):
            bad("refund_exceeds_charge", j.id, f"{j.state} job still charged {j.credits_used}")
        if j.credits_used < 0 or j.written_off < 0:
            bad("negative_charge", j.id, f"used {j.credits_used}, written off {j.written_off}")

    def wallets(self) -> None:
        bad = self.bad
        for w in self.s.wallets:
            account = overdraft_account(w.id)
            self.known.add(account)
            held = self.held_by_wallet[w.id]
            if w.held != held:
                bad("wallet_held_mismatch", w.id, f"held {w.held}, holds {held}")
            if w.debt != -self.bal.get(account, 0):
                bad(
                    "wallet_debt_mismatch",
                    w.id,
                    f"debt {w.debt}, entries {-self.bal.get(account, 0)}",
                )
            totals = {kind: list(total) for kind, total in w.grant_totals.items()}
            if totals != self.live_by_wallet[w.id]:
                bad(
                    "wallet_grant_totals_mismatch",
                    w.id,
                    f"grant totals {totals}, grants say {self.live_by_wallet[w.id]}",
                )
            if not 0 <= w.debt <= w.overdraft_limit:
                bad("overdraft_exceeded", w.id, f"debt {w.debt}, limit {w.overdraft_limit}")
            available = self.spendable[w.id] - w.debt
            if available < -w.overdraft_limit:
                bad("negative_available", w.id, f"available {available}")

    def accounts_and_keys(self, whole: bool) -> None:
        for account in self.bal if whole else ():
            if account not in self.known:
                self.bad(
                    "unknown_account", account, "entries on an account no wallet, grant or job owns"
                )
        for key, n in Counter(self.s.transaction_keys).items():
            if n > 1:
                self.bad("idempotency_key_reused", "/".join(key), f"{n} effects under one key")
            if key not in self.s.idempotency_keys:
                self.bad(
                    "effect_without_key_record", "/".join(key), "no idempotency record for effect"
                )
