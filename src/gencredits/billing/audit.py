"""The auditor: every ledger invariant, checked from a snapshot, all problems at once.

Balances are projections of the entries; the materialised numbers (grant remaining, wallet
held and debt, job credits) are caches that must equal them.  Codes are stable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from gencredits.ledger.model import (
    ACCOUNT_CONSUMED,
    ACCOUNT_EXPIRED,
    ACCOUNT_ISSUED,
    ACCOUNT_WRITTEN_OFF,
    JobState,
    grant_account,
    hold_account,
    overdraft_account,
)
from gencredits.ledger.store import AuditSnapshot

from .views import Violation

__all__ = ["audit_snapshot"]

_RESOLUTIONS = ("capture", "release", "timeout")
_LATE = ("late_capture", "write_off")


def audit_snapshot(s: AuditSnapshot, now: datetime) -> list[Violation]:
    out: list[Violation] = []

    def bad(code: str, subject: str, message: str) -> None:
        out.append(Violation(code=code, subject=subject, message=message))

    bal = s.account_balances
    for tx_id, total in s.unbalanced_transactions:
        bad("transaction_unbalanced", tx_id, f"entries sum to {total}, not 0")
    grand = sum(bal.values())
    if grand != 0:
        bad("ledger_not_zero_sum", "ledger", f"all entries sum to {grand}, not 0")
    for account, sign in ((ACCOUNT_ISSUED, -1), (ACCOUNT_WRITTEN_OFF, -1)):
        if bal.get(account, 0) * sign < 0:
            bad("system_account_sign", account, f"balance {bal[account]} should be <= 0")
    for account in (ACCOUNT_CONSUMED, ACCOUNT_EXPIRED):
        if bal.get(account, 0) < 0:
            bad("system_account_sign", account, f"balance {bal[account]} should be >= 0")

    known: set[str] = {ACCOUNT_ISSUED, ACCOUNT_CONSUMED, ACCOUNT_EXPIRED, ACCOUNT_WRITTEN_OFF}
    spendable: dict[str, int] = defaultdict(int)
    for g in s.grants:
        account = grant_account(g.id)
        known.add(account)
        actual = bal.get(account, 0)
        if g.remaining != actual:
            bad("grant_balance_mismatch", g.id, f"remaining {g.remaining} but entries say {actual}")
        if not 0 <= g.remaining <= g.amount:
            bad("grant_remaining_out_of_range", g.id, f"remaining {g.remaining} of {g.amount}")
        if g.state != "active" and g.remaining != 0:
            bad("closed_grant_not_empty", g.id, f"{g.state} grant still has {g.remaining}")
        if g.spendable_at(now):
            spendable[g.wallet_id] += g.remaining

    held_by_wallet: dict[str, int] = defaultdict(int)
    consumed_by_jobs = 0
    for j in s.jobs:
        account = hold_account(j.id)
        known.add(account)
        actual = bal.get(account, 0)
        held_by_wallet[j.wallet_id] += actual
        consumed_by_jobs += j.credits_used + j.written_off
        if j.credits_held != actual:
            bad("hold_balance_mismatch", j.id, f"credits_held {j.credits_held}, entries {actual}")
        kinds = Counter(s.job_transactions.get(j.id, ()))
        holds = kinds["hold"]
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
    consumed = bal.get(ACCOUNT_CONSUMED, 0)
    if consumed != consumed_by_jobs:
        bad("consumed_mismatch", ACCOUNT_CONSUMED, f"account {consumed}, jobs {consumed_by_jobs}")

    for w in s.wallets:
        account = overdraft_account(w.id)
        known.add(account)
        if w.held != held_by_wallet[w.id]:
            bad("wallet_held_mismatch", w.id, f"held {w.held}, holds {held_by_wallet[w.id]}")
        if w.debt != -bal.get(account, 0):
            bad("wallet_debt_mismatch", w.id, f"debt {w.debt}, entries {-bal.get(account, 0)}")
        if not 0 <= w.debt <= w.overdraft_limit:
            bad("overdraft_exceeded", w.id, f"debt {w.debt}, limit {w.overdraft_limit}")
        available = spendable[w.id] - w.debt
        if available < -w.overdraft_limit:
            bad("negative_available", w.id, f"available {available}")

    for account in bal:
        if account not in known:
            bad("unknown_account", account, "entries on an account no wallet, grant or job owns")

    for key, n in Counter(s.transaction_keys).items():
        if n > 1:
            bad("idempotency_key_reused", "/".join(key), f"{n} effects under one key")
        if key not in s.idempotency_keys:
            bad("effect_without_key_record", "/".join(key), "no idempotency record for effect")
    return out
