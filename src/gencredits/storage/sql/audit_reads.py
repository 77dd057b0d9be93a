"""The auditor's reads, wallet by wallet: what :class:`~gencredits.ledger.store.AuditSnapshot`
holds for a few wallets (their rows, grants, jobs, the balances of their own accounts and
their transactions), the ledger-wide sums, and the wallets in a scope.

Every query is bounded by the wallets it is given or sums in the database: an audit of a
large ledger reads it one page of wallets at a time, in one snapshot
(:meth:`~gencredits.billing.Billing.audit_scoped`).  Account names are ``grant:<id>``,
``hold:<id>`` and ``overdraft:<id>``; every table is read by its key led by ``wallet_id``
and joined on it (a ledger transaction posts to its own wallet's accounts only), so with
the tables distributed by wallet each query stays on the wallets' own shards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.ledger.model import SYSTEM_ACCOUNTS
from gencredits.ledger.store import AuditScope, AuditSnapshot, AuditTotals
from gencredits.storage.sql import rows
from gencredits.storage.sql import schema as t

__all__ = ["cursor", "snapshot", "totals", "wallet_ids"]

#: Unknown accounts reported at most (each is a violation; more say nothing new).
UNKNOWN_SHOWN = 100

#: (account prefix, owning table) of every account a wallet owns.
_OWNERS: tuple[tuple[str, sa.Table], ...] = (
    ("grant:", t.grants),
    ("hold:", t.jobs),
    ("overdraft:", t.wallets),
)


def _owner_key(prefix: str) -> sa.ColumnElement[Any]:
    """The owner's id within an account name (what follows ``prefix``)."""
    return sa.func.substr(t.entries.c.account, len(prefix) + 1)


def _balances(c: Connection, ids: Sequence[str]) -> dict[str, int]:
    e = t.entries
    out: dict[str, int] = {}
    for prefix, owner in _OWNERS:
        wallet = owner.c.id if owner is t.wallets else owner.c.wallet_id
        on = sa.and_(e.c.wallet_id == wallet, e.c.account == sa.literal(prefix) + owner.c.id)
        q = (
            sa.select(owner.c.id, sa.func.sum(e.c.amount))
            .select_from(owner.join(e, on))
            .where(e.c.wallet_id.in_(ids))
            .group_by(owner.c.id)
        )
        out.update({prefix + str(i): int(total) for i, total in c.execute(q)})
    return out


def _unbalanced(c: Connection, where: sa.ColumnElement[bool] | None) -> list[tuple[str, int]]:
    e, tx = t.entries, t.transactions
    total = sa.func.coalesce(sa.func.sum(e.c.amount), 0)
    on = sa.and_(e.c.wallet_id == tx.c.wallet_id, e.c.tx_seq == tx.c.seq)
    q = (
        sa.select(tx.c.id, total)
        .select_from(tx.outerjoin(e, on))
        .group_by(tx.c.wallet_id, tx.c.seq, tx.c.id)
        .having(sa.or_(total != 0, sa.func.count(e.c.seq) == 0))
    )
    if where is not None:
        q = q.where(where)
    return [(r[0], int(r[1])) for r in c.execute(q)]


def snapshot(
    c: Connection, ids: Sequence[str] | None, keys_since: datetime | None = None
) -> AuditSnapshot:
    """The auditor's facts about ``ids`` (None: about everything); transaction keys of
    transactions created at or after ``keys_since`` only."""
    e, tx, idem = t.entries, t.transactions, t.idempotency
    mine: sa.ColumnElement[bool] | None = None if ids is None else tx.c.wallet_id.in_(ids)
    if ids is None:
        by_account = sa.select(e.c.account, sa.func.sum(e.c.amount)).group_by(e.c.account)
        balances = {str(a): int(v) for a, v in c.execute(by_account)}
    else:
        balances = _balances(c, ids)

    def owned(table: sa.Table, columns: Sequence[Any], key: sa.ColumnElement[str]) -> Any:
        q = sa.select(*columns)
        return c.execute(q if ids is None else q.where(key.in_(ids)))

    jobs = [rows.job_of(r) for r in owned(t.jobs, rows.JOB_COLUMNS, t.jobs.c.wallet_id)]
    job_txs: dict[str, list[str]] = defaultdict(list)
    q = sa.select(tx.c.job_id, tx.c.kind).where(tx.c.job_id.is_not(None)).order_by(tx.c.seq)
    if mine is not None:
        q = q.where(mine)
    for job_id, kind in c.execute(q):
        job_txs[job_id].append(kind)
    keyed = sa.select(tx.c.idem_scope, tx.c.idem_key).where(tx.c.idem_key.is_not(None))
    if keys_since is not None:
        keyed = keyed.where(tx.c.created_at >= keys_since)
    keys = [(r[0], r[1]) for r in c.execute(keyed if mine is None else keyed.where(mine))]
    records = sa.select(idem.c.scope, idem.c.key)
    if mine is not None:
        on = sa.and_(
            tx.c.wallet_id == idem.c.wallet_id,
            tx.c.idem_scope == idem.c.scope,
            tx.c.idem_key == idem.c.key,
        )
        records = records.select_from(idem.join(tx, on)).where(mine).distinct()
    return AuditSnapshot(
        account_balances=balances,
        unbalanced_transactions=_unbalanced(c, mine),
        wallets=[rows.wallet_of(r) for r in owned(t.wallets, rows.WALLET_COLUMNS, t.wallets.c.id)],
        grants=[
            rows.grant_of(r) for r in owned(t.grants, rows.GRANT_COLUMNS, t.grants.c.wallet_id)
        ],
        jobs=jobs,
        job_transactions=dict(job_txs),
        transaction_keys=keys,
        idempotency_keys=frozenset((r[0], r[1]) for r in c.execute(records)),
    )


def wallet_ids(c: Connection, scope: AuditScope, *, after_id: str | None, limit: int) -> list[str]:
    w, tx = t.wallets, t.transactions
    q = sa.select(w.c.id).order_by(w.c.id).limit(limit)
    if after_id is not None:
        q = q.where(w.c.id > after_id)
    if scope.wallet_from is not None:
        q = q.where(w.c.id >= scope.wallet_from)
    if scope.wallet_to is not None:
        q = q.where(w.c.id <= scope.wallet_to)
    if scope.since is not None:
        # one probe of the key (wallet_id, seq) per wallet
        q = q.where(sa.exists().where(tx.c.wallet_id == w.c.id, tx.c.seq > scope.since))
    return [str(r[0]) for r in c.execute(q)]


def totals(c: Connection) -> AuditTotals:
    e, jobs = t.entries, t.jobs
    grand = c.execute(sa.select(sa.func.coalesce(sa.func.sum(e.c.amount), 0))).scalar_one()
    system = dict.fromkeys(SYSTEM_ACCOUNTS, 0)
    q = sa.select(e.c.account, sa.func.sum(e.c.amount)).where(e.c.account.in_(SYSTEM_ACCOUNTS))
    system.update({str(a): int(v) for a, v in c.execute(q.group_by(e.c.account))})
    used = sa.func.coalesce(sa.func.sum(jobs.c.credits_used + jobs.c.written_off), 0)
    unknown = sa.select(e.c.account).where(e.c.account.not_in(SYSTEM_ACCOUNTS))
    for prefix, owner in _OWNERS:
        owned = sa.exists().where(owner.c.id == _owner_key(prefix))
        unknown = unknown.where(sa.not_(sa.and_(e.c.account.startswith(prefix), owned)))
    unknown = unknown.distinct().order_by(e.c.account).limit(UNKNOWN_SHOWN)
    return AuditTotals(
        grand_total=int(grand),
        system_balances=system,
        consumed_by_jobs=int(c.execute(sa.select(used)).scalar_one()),
        unknown_accounts=[str(r[0]) for r in c.execute(unknown)],
    )


def cursor(c: Connection) -> int:
    q = sa.select(sa.func.coalesce(sa.func.max(t.transactions.c.seq), 0))
    return int(c.execute(q).scalar_one())
