"""The SQL statements of the store, built once.

Executing a prebuilt statement with a parameter dict skips SQLAlchemy's per-call
construction and cache-key work (most of the time of a unit of work).  The ``unnest_*``
builders give the PostgreSQL forms that take a batch's rows as one array per column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import ARRAY

from gencredits.storage.sql import schema as t
from gencredits.storage.sql.rows import GRANT_COLUMNS, IDEM_COLUMNS, JOB_COLUMNS, WALLET_COLUMNS

__all__ = [
    "ACTIVE_WALLET_GRANTS",
    "EXPIRED_LIVE_GRANTS",
    "EXPIRING_GRANTS",
    "GRANT_CHANGE",
    "INSERT_ENTRY",
    "INSERT_ENTRY_ARRAYS",
    "INSERT_EVENT",
    "INSERT_GRANT",
    "INSERT_IDEM",
    "INSERT_JOB",
    "INSERT_TX",
    "INSERT_WALLET",
    "JOB_CHANGE",
    "LOCK_WALLET",
    "NONEMPTY_ACTIVE_GRANTS",
    "NONEMPTY_GRANTS",
    "OUTBOX_HORIZON",
    "SELECT_GRANT",
    "SELECT_IDEM",
    "SELECT_JOB",
    "SELECT_WALLET",
    "SPEND_ORDER_PAGE",
    "STARTING_LIVE_GRANTS",
    "UPDATE_GRANT",
    "UPDATE_JOB",
    "UPDATE_WALLET",
    "WALLET_CHANGE",
    "WALLET_GRANTS",
    "keyed_update",
    "unnest_insert",
    "unnest_rows",
    "unnest_update",
]


def unnest_rows(types: Mapping[str, sa.types.TypeEngine[Any]]) -> Any:
    """PostgreSQL: ``unnest(:a::T[], :b::U[], ...) WITH ORDINALITY AS u(a, b, ..., n)``, the
    rows of a batch passed as one array per column (``u.c.a``, ..., ``u.c.n`` their order)."""
    # One dimension: a JSON value that is itself a list stays one element.
    arrays = [sa.bindparam(k, type_=ARRAY(type_, dimensions=1)) for k, type_ in types.items()]
    return sa.func.unnest(*arrays).table_valued(*types, with_ordinality="n").render_derived("u")


def unnest_insert(
    table: sa.Table, keys: Sequence[str], *, scalars: frozenset[str] = frozenset()
) -> sa.Insert:
    """PostgreSQL: insert the rows given as arrays (see :func:`unnest_rows`), in their order;
    the columns in ``scalars`` take one value for every row (a scalar parameter)."""
    rows = unnest_rows({key: table.c[key].type for key in keys if key not in scalars})
    values = (
        sa.bindparam(key, type_=table.c[key].type) if key in scalars else rows.c[key]
        for key in keys
    )
    return table.insert().from_select(list(keys), sa.select(*values).order_by(rows.c.n))


def unnest_update(table: sa.Table, key: tuple[str, str], columns: Sequence[str]) -> sa.Update:
    """PostgreSQL: ``UPDATE table SET c = u.c ... FROM unnest(...) AS u WHERE table.k =
    u.param`` for ``key = (k, param)``, the rows given as arrays (see :func:`unnest_rows`)."""
    column, param = key
    types = {param: table.c[column].type, **{c: table.c[c].type for c in columns}}
    rows = unnest_rows(types)
    return (
        table.update()
        .values({c: rows.c[c] for c in columns})
        .where(table.c[column] == rows.c[param])
    )


def keyed_update(table: sa.Table, key: tuple[str, str], columns: Sequence[str]) -> sa.Update:
    """``UPDATE table SET c = :c ... WHERE table.k = :param`` for ``key = (k, param)``: the
    row-at-a-time form of :func:`unnest_update`."""
    column, param = key
    changes: dict[str, Any] = {c: sa.bindparam(c) for c in columns}
    return table.update().where(table.c[column] == sa.bindparam(param)).values(changes)


# Statements are built once: executing a prebuilt statement with a parameter dict skips
# SQLAlchemy's per-call construction and cache-key work (most of the time of a unit of work).
_B = sa.bindparam
SELECT_WALLET = sa.select(*WALLET_COLUMNS).where(t.wallets.c.id == _B("id"))
LOCK_WALLET = SELECT_WALLET.with_for_update()
INSERT_WALLET = t.wallets.insert()
# What changes in a wallet and in a grant after they are inserted: (table, (key column, its
# parameter), changed columns), for one row here and for a batch's rows in BulkStatement.update.
WALLET_CHANGE = (
    t.wallets,
    ("id", "w_id"),
    ("held", "debt", "updated_at", "frozen", "grant_totals"),
)
GRANT_CHANGE = (t.grants, ("id", "g_id"), ("remaining", "state", "closed_at"))
UPDATE_WALLET = keyed_update(*WALLET_CHANGE)
SELECT_GRANT = sa.select(*GRANT_COLUMNS).where(t.grants.c.id == _B("id"))
WALLET_GRANTS = (
    sa.select(*GRANT_COLUMNS)
    .where(t.grants.c.wallet_id == _B("wallet_id"))
    .order_by(t.grants.c.created_at)
)
ACTIVE_WALLET_GRANTS = (
    sa.select(*GRANT_COLUMNS)
    .where(t.grants.c.wallet_id == _B("wallet_id"), t.grants.c.state == "active")
    .order_by(t.grants.c.created_at)
)
NONEMPTY_GRANTS = WALLET_GRANTS.where(t.grants.c.remaining > 0)
NONEMPTY_ACTIVE_GRANTS = ACTIVE_WALLET_GRANTS.where(t.grants.c.remaining > 0)
INSERT_GRANT = t.grants.insert()
_G = t.grants.c
_LIVE_OF_WALLET = sa.and_(_G.wallet_id == _B("wallet_id"), t.LIVE_GRANT)


def _indexed_by(query: sa.Select[Any], index: str) -> dict[str, Any]:
    """The statement per backend; on SQLite with ``INDEXED BY index`` (an error if the index
    cannot serve it): its planner has no statistics unless ANALYZE ran, and picked another
    partial index and a sort.  SQLAlchemy renders no table hints for SQLite, hence the text."""
    sqlite = sqlite_dialect.dialect(paramstyle="named")
    compiled = query.compile(dialect=sqlite)
    sql = compiled.string.replace("FROM ledger_grants", f"FROM ledger_grants INDEXED BY {index}", 1)
    binds = [sa.bindparam(n, b.value, type_=b.type) for b, n in compiled.bind_names.items()]
    text = sa.text(sql).bindparams(*binds).columns(*GRANT_COLUMNS)
    return {"sqlite": text, "postgresql": query}
    return query.with_hint(t.grants, f"INDEXED BY {index}", "sqlite")


#: A page of a wallet's live grants in spend order, from the partial spend index (whether
#: each is spendable at a given instant is checked by the caller).
SPEND_ORDER_PAGE = _indexed_by(
    sa.select(*GRANT_COLUMNS)
    .where(_LIVE_OF_WALLET)
    .order_by(*t.SPEND_ORDER)
    .limit(_B("limit"))
    .offset(_B("offset")),
    "ix_ledger_grants_spend",
)
#: Live grants past their expiry at ``now`` (not yet swept), and those not yet started.
EXPIRED_LIVE_GRANTS = _indexed_by(
    sa.select(*GRANT_COLUMNS).where(
        _LIVE_OF_WALLET, _G.expires_at.is_not(None), _G.expires_at <= _B("now")
    ),
    "ix_ledger_grants_expiring",
)
STARTING_LIVE_GRANTS = _indexed_by(
    sa.select(*GRANT_COLUMNS).where(
        _G.wallet_id == _B("wallet_id"), t.STARTS_LATER, _G.effective_at > _B("now")
    ),
    "ix_ledger_grants_starting",
)
EXPIRING_GRANTS = _indexed_by(
    sa.select(*GRANT_COLUMNS)
    .where(_LIVE_OF_WALLET, _G.expires_at.is_not(None))
    .order_by(_G.expires_at, _G.created_at, _G.id)
    .limit(_B("limit")),
    "ix_ledger_grants_expiring",
)
UPDATE_GRANT = keyed_update(*GRANT_CHANGE)
SELECT_JOB = sa.select(*JOB_COLUMNS).where(t.jobs.c.id == _B("id"))
INSERT_JOB = t.jobs.insert()
# What changes after a job is inserted: its lifecycle.  The request (params, quote, catalog,
# hold legs, metadata) is written once, at insert.
_JOB_LIFECYCLE = (
    "state",
    "credits_held",
    "credits_used",
    "written_off",
    "reason",
    "updated_at",
    "resolved_at",
)
JOB_CHANGE = (t.jobs, ("id", "j_id"), _JOB_LIFECYCLE)
UPDATE_JOB = keyed_update(*JOB_CHANGE)
INSERT_TX = t.transactions.insert()


def _tx_seq(wallet_id: Any, tx_id: Any) -> Any:
    """The seq of the transaction whose id is ``tx_id`` (parameters or columns), found by the
    key led by the id.  Not by ``wallet_id`` too: with it the planner may walk a key led by
    the wallet instead, every row of a hot wallet whose rows outgrew its statistics (it did,
    in the ledger bench); ``wallet_id`` is kept for the signature Citus would route by."""
    del wallet_id
    tx = t.transactions.c
    return sa.select(tx.seq).where(tx.id == tx_id).scalar_subquery()


# PostgreSQL: an entry names its transaction by id and the database looks the seq up (the
# identity numbers the transaction): a batch writes its transactions and then their entries
# without reading the new seqs back in between.  (SQLite: the store numbers both, see
# numbering.py, and an entry is a plain row.)
INSERT_ENTRY = t.entries.insert().values(
    wallet_id=_B("wallet_id"),
    tx_seq=_tx_seq(_B("wallet_id"), _B("tx_id")),
    account=_B("account"),
    amount=_B("amount"),
)
_ENTRY_ARRAYS = unnest_rows(
    {
        "wallet_id": t.entries.c.wallet_id.type,
        "tx_id": t.transactions.c.id.type,
        "account": t.entries.c.account.type,
        "amount": t.entries.c.amount.type,
    }
)
#: the same for a batch's rows on PostgreSQL (see BulkStatement), in their order
INSERT_ENTRY_ARRAYS = t.entries.insert().from_select(
    ["wallet_id", "tx_seq", "account", "amount"],
    sa.select(
        _ENTRY_ARRAYS.c.wallet_id,
        _tx_seq(_ENTRY_ARRAYS.c.wallet_id, _ENTRY_ARRAYS.c.tx_id),
        _ENTRY_ARRAYS.c.account,
        _ENTRY_ARRAYS.c.amount,
    ).order_by(_ENTRY_ARRAYS.c.n),
)
SELECT_IDEM = sa.select(*IDEM_COLUMNS).where(
    t.idempotency.c.wallet_id == _B("wallet_id"),
    t.idempotency.c.scope == _B("scope"),
    t.idempotency.c.key == _B("key"),
)
INSERT_IDEM = t.idempotency.insert()
INSERT_EVENT = t.outbox.insert()
# The oldest transaction that was running when this statement's snapshot was taken and may
# still commit outbox rows here: the snapshot's in-progress ids, less those seen running in
# ANOTHER database (one that ended meanwhile, or whose database we cannot see, still counts:
# conservative); with none, the snapshot's xmax.  Same snapshot as the rows it filters.
OUTBOX_HORIZON: sa.ColumnClause[Any] = sa.literal_column(
    "(SELECT coalesce(min(x::text::bigint), pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"
    " FROM pg_snapshot_xip(pg_current_snapshot()) AS x"
    " WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
    " WHERE a.backend_xid::text = (x::text::bigint & 4294967295)::text"
    " AND a.datname IS DISTINCT FROM current_database()))"
)
