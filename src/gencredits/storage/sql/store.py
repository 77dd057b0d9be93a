"""The SQL store (SQLAlchemy 2 Core): SQLite and PostgreSQL behind one adapter.

Locking: every writing unit of work starts by locking the wallet row it changes
(``SELECT ... FOR UPDATE`` on PostgreSQL), never "the latest ledger row" (a moving target
that loses updates under read committed).  On SQLite ``BEGIN IMMEDIATE`` (see
:mod:`gencredits.storage.sql.engine`) already serialises writers.  Unique keys (wallet id,
job id, the idempotency key, the one-transaction-per-key constraint) are the backstop: a
violation becomes :class:`~gencredits.ledger.store.RetryableConflict` and the service retries.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine

from gencredits.ledger.model import (
    Event,
    Grant,
    HoldLeg,
    IdempotencyRecord,
    Job,
    Posting,
    Transaction,
    Wallet,
)
from gencredits.ledger.store import AuditSnapshot, RetryableConflict
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.engine import READONLY_OPTION

__all__ = ["SqlStore"]

T = TypeVar("T")

#: SQLSTATEs after which the whole unit of work may simply be run again.
_RETRY_SQLSTATES = {"40001", "40P01", "23505"}


def _columns(
    table: sa.Table, model: type[Any], rename: Mapping[str, str] | None = None
) -> tuple[sa.Column[Any], ...]:
    """The table's columns in the order of the model's fields, so that a row builds the model
    by position (``Wallet(*row)``): no per-column lookups by name."""
    rename = rename or {}
    return tuple(table.c[rename.get(f.name, f.name)] for f in fields(model))


WALLET_COLUMNS = _columns(t.wallets, Wallet)
GRANT_COLUMNS = _columns(t.grants, Grant)
JOB_COLUMNS = _columns(t.jobs, Job, {"metadata": "meta"})
IDEM_COLUMNS = _columns(t.idempotency, IdempotencyRecord)
_HOLD_LEGS = [f.name for f in fields(Job)].index("hold_legs")


def unnest_rows(types: Mapping[str, sa.types.TypeEngine[Any]]) -> Any:
    """PostgreSQL: ``unnest(:a::T[], :b::U[], ...) WITH ORDINALITY AS u(a, b, ..., n)``, the
    rows of a batch passed as one array per column (``u.c.a``, ..., ``u.c.n`` their order)."""
    # One dimension: a JSON value that is itself a list stays one element.
    arrays = [sa.bindparam(k, type_=ARRAY(type_, dimensions=1)) for k, type_ in types.items()]
    return sa.func.unnest(*arrays).table_valued(*types, with_ordinality="n").render_derived("u")


def unnest_insert(table: sa.Table, keys: Sequence[str]) -> sa.Insert:
    """PostgreSQL: insert the rows given as arrays (see :func:`unnest_rows`), in their order."""
    rows = unnest_rows({key: table.c[key].type for key in keys})
    return table.insert().from_select(
        list(keys), sa.select(*(rows.c[key] for key in keys)).order_by(rows.c.n)
    )


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
_SELECT_WALLET = sa.select(*WALLET_COLUMNS).where(t.wallets.c.id == _B("id"))
_LOCK_WALLET = _SELECT_WALLET.with_for_update()
_INSERT_WALLET = t.wallets.insert()
# What changes in a wallet and in a grant after they are inserted: (table, (key column, its
# parameter), changed columns), for one row here and for a batch's rows in BulkStatement.update.
WALLET_CHANGE = (t.wallets, ("id", "w_id"), ("held", "debt", "updated_at"))
GRANT_CHANGE = (t.grants, ("id", "g_id"), ("remaining", "state", "closed_at"))
_UPDATE_WALLET = keyed_update(*WALLET_CHANGE)
_SELECT_GRANT = sa.select(*GRANT_COLUMNS).where(t.grants.c.id == _B("id"))
_WALLET_GRANTS = (
    sa.select(*GRANT_COLUMNS)
    .where(t.grants.c.wallet_id == _B("wallet_id"))
    .order_by(t.grants.c.created_at)
)
_ACTIVE_WALLET_GRANTS = (
    sa.select(*GRANT_COLUMNS)
    .where(t.grants.c.wallet_id == _B("wallet_id"), t.grants.c.state == "active")
    .order_by(t.grants.c.created_at)
)
_NONEMPTY_GRANTS = _WALLET_GRANTS.where(t.grants.c.remaining > 0)
_NONEMPTY_ACTIVE_GRANTS = _ACTIVE_WALLET_GRANTS.where(t.grants.c.remaining > 0)
_INSERT_GRANT = t.grants.insert()
_UPDATE_GRANT = keyed_update(*GRANT_CHANGE)
_SELECT_JOB = sa.select(*JOB_COLUMNS).where(t.jobs.c.id == _B("id"))
_INSERT_JOB = t.jobs.insert()
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
_UPDATE_JOB = keyed_update(*JOB_CHANGE)
_INSERT_TX = t.transactions.insert()


def _tx_seq(tx_id: Any) -> Any:
    """The seq of the transaction whose id is ``tx_id`` (a parameter or a column)."""
    return sa.select(t.transactions.c.seq).where(t.transactions.c.id == tx_id).scalar_subquery()


# An entry names its transaction by id and the database looks the seq up: a batch writes its
# transactions and then their entries without reading the new seqs back in between.
_INSERT_ENTRY = t.entries.insert().values(
    tx_seq=_tx_seq(_B("tx_id")), account=_B("account"), amount=_B("amount")
)
_ENTRY_ARRAYS = unnest_rows(
    {
        "tx_id": t.transactions.c.id.type,
        "account": t.entries.c.account.type,
        "amount": t.entries.c.amount.type,
    }
)
#: the same for a batch's rows on PostgreSQL (see BulkStatement), in their order
_INSERT_ENTRY_ARRAYS = t.entries.insert().from_select(
    ["tx_seq", "account", "amount"],
    sa.select(
        _tx_seq(_ENTRY_ARRAYS.c.tx_id), _ENTRY_ARRAYS.c.account, _ENTRY_ARRAYS.c.amount
    ).order_by(_ENTRY_ARRAYS.c.n),
)
_SELECT_IDEM = sa.select(*IDEM_COLUMNS).where(
    t.idempotency.c.scope == _B("scope"), t.idempotency.c.key == _B("key")
)
_INSERT_IDEM = t.idempotency.insert()
_INSERT_EVENT = t.outbox.insert()
# The oldest transaction that was running when this statement's snapshot was taken and may
# still commit outbox rows here: the snapshot's in-progress ids, less those seen running in
# ANOTHER database (one that ended meanwhile, or whose database we cannot see, still counts:
# conservative); with none, the snapshot's xmax.  Same snapshot as the rows it filters.
_OUTBOX_HORIZON: sa.ColumnClause[Any] = sa.literal_column(
    "(SELECT coalesce(min(x::text::bigint), pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"
    " FROM pg_snapshot_xip(pg_current_snapshot()) AS x"
    " WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
    " WHERE a.backend_xid::text = (x::text::bigint & 4294967295)::text"
    " AND a.datname IS DISTINCT FROM current_database()))"
)


_NAMED_PARAM = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True, slots=True)
class _DriverPlan:
    """A statement compiled for one dialect, to run on the driver's own cursor."""

    sql: str
    #: the values of one execution, by parameter name, in the driver's positional order
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    #: SQLAlchemy's bind processors (by parameter position) and result processors (by column)
    binds: _Processors
    results: _Processors
    #: PostgreSQL on psycopg 3: one execution with one array per row key (see BulkStatement)
    columnar: bool = False

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        return _processed(self.getter(params), self.binds)


_Processors = tuple[tuple[int, Callable[[Any], Any]], ...]


def _processed(values: Sequence[Any], processors: _Processors) -> tuple[Any, ...]:
    """``values`` with each processor applied at its position."""
    if not processors:
        return tuple(values)
    converted = list(values)
    for i, process in processors:
        converted[i] = process(converted[i])
    return tuple(converted)


def _driver_plan(
    statement: sa.Executable,
    dialect: Any,
    *,
    keys: Sequence[str] | None = None,
    insert: bool = False,
    columnar: bool = False,
) -> _DriverPlan:
    """Compile ``statement`` once: its SQL text for the driver (positional parameters), and
    the same bind and result processors SQLAlchemy would apply, so that what is written and
    read is exactly what ``Connection.execute`` writes and reads.  ``keys``: the parameters
    every execution brings (an insert's are its columns).  ``columnar`` (psycopg 3): the
    statement takes arrays, sent in binary format; as text, psycopg writes an array of eight
    job quotes (JSON) in 2.1 ms against 0.33 ms, escaping every quote mark (measured on the
    test machine)."""
    compiled = cast(Any, statement).compile(dialect=dialect, column_keys=keys if insert else None)
    if compiled.post_compile_params:
        raise AssertionError(
            f"{statement}: a parameter expanded at execution (IN a list) cannot be prebuilt"
        )
    sql: str = compiled.string
    if compiled.positiontup is not None:
        names = list(compiled.positiontup)
    else:  # named (psycopg): positional is cheaper to build and to send
        names = _NAMED_PARAM.findall(sql)
        sql = _NAMED_PARAM.sub("%b" if columnar else "%s", sql)
    if len(names) != len(set(names)) or (
        keys is not None and not {n for n in names if compiled.binds[n].required} <= set(keys)
    ):
        raise AssertionError(f"cannot run {sql!r} on the driver with keys {keys}")
    binds = compiled._bind_processors
    results = []
    for i, column in enumerate(compiled._result_columns):
        process = column.type._cached_result_processor(dialect, None)
        if process is not None:
            results.append((i, process))
    # Literals of the statement (``state == "active"``) are parameters with a value.
    constants = {
        n: compiled.binds[n].effective_value for n in names if not compiled.binds[n].required
    }
    getter: Callable[[Mapping[str, Any]], Any]
    if constants:
        template = [constants.get(n) for n in names]
        slots = [(i, n) for i, n in enumerate(names) if n not in constants]

        def getter(params: Mapping[str, Any]) -> tuple[Any, ...]:
            values = template.copy()
            for i, name in slots:
                values[i] = params[name]
            return tuple(values)

    elif len(names) == 1:
        only = names[0]
        getter = lambda params: (params[only],)  # noqa: E731
    else:
        getter = itemgetter(*names) if names else lambda _params: ()
    return _DriverPlan(
        sql=sql,
        getter=getter,
        binds=tuple((i, binds[n]) for i, n in enumerate(names) if n in binds),
        results=tuple(results),
        columnar=columnar,
    )


def _on_driver(conn: Connection, sql: str, params: Any, *, many: bool = False) -> Any:
    """Run ``sql`` on a driver cursor of ``conn`` (inside its transaction), without
    SQLAlchemy's execution layer (events, execution context, result objects): loading eight
    jobs on SQLite, rows to models, took 296-425 us through ``Connection.execute`` and
    231-233 us here (timeit, same statement and processors).  A driver error is raised as
    SQLAlchemy would raise it (``IntegrityError``, ``OperationalError``, ...), and a lost
    connection is invalidated, so callers handle errors the same way on either path.
    Returns the open cursor, for its rows (see :class:`SentSelect`)."""
    cursor = conn.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except BaseException as exc:
        cursor.close()
        if isinstance(exc, conn.dialect.loaded_dbapi.Error):
            raise _sqlalchemy_error(conn, exc, sql, params, many=many, cursor=cursor) from exc
        raise
    return cursor


def _sqlalchemy_error(
    conn: Connection, exc: Exception, sql: str, params: Any, *, many: bool, cursor: Any = None
) -> sa.exc.DBAPIError:
    """The error SQLAlchemy would raise for the driver's ``exc``; a lost connection is
    invalidated, as SQLAlchemy does, so that it is never used again."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(cast(Any, exc), conn.connection.dbapi_connection, cursor)
    error = sa.exc.DBAPIError.instance(
        sql,
        params,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
        ismulti=many,
    )
    if lost:
        conn.invalidate(exc)
    return cast(sa.exc.DBAPIError, error)


@contextmanager
def driver_pipeline(conn: Connection) -> Iterator[None]:
    """PostgreSQL: the statements run on the driver inside this block (bulk writes, queries
    sent with :meth:`DirectSelect.send`) go out one after the other without waiting for each
    other's results (psycopg's pipeline mode): reading the first rows, or the end of the
    block, waits for everything sent so far at once.  One round trip for a batch's ten
    writes, not ten.  The server runs them in the order sent.  An error is raised (as
    SQLAlchemy's) where its result is read, by the block's end at the latest.  Other
    backends: no change (each statement runs as it is sent)."""
    if not _psycopg_pipelines(conn.dialect.driver):
        yield
        return
    try:
        with cast(Any, conn.connection.dbapi_connection).pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _sqlalchemy_error(conn, exc, "(pipeline)", None, many=True) from exc


@cache
def _psycopg_pipelines(driver: str) -> bool:
    """True on psycopg 3 with a libpq that has pipeline mode (14 or later); asked once."""
    if driver != "psycopg":
        return False
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


class DirectSelect:
    """A prebuilt SELECT run on a driver cursor (see :func:`_on_driver`); its rows are plain
    tuples, converted by SQLAlchemy's own result processors for its columns."""

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self._plans: dict[Any, _DriverPlan] = {}  # per dialect instance: its own converters

    def send(self, conn: Connection, params: Mapping[str, Any]) -> SentSelect:
        """Send the query; its rows are read by :meth:`SentSelect.rows`.  Inside a
        :func:`driver_pipeline` block, several queries sent one after the other cost one
        round trip (they run in the order sent)."""
        plan = self._plans.get(conn.dialect)
        if plan is None:
            plan = self._plans[conn.dialect] = _driver_plan(self.statement, conn.dialect)
        values = plan.values(params)
        return SentSelect(conn, _on_driver(conn, plan.sql, values), plan, values)


class SentSelect:
    """A query sent by :meth:`DirectSelect.send`, its rows not read yet."""

    __slots__ = ("_conn", "_cursor", "_plan", "_values")

    def __init__(self, conn: Connection, cursor: Any, plan: _DriverPlan, values: Any) -> None:
        self._conn, self._cursor, self._plan, self._values = conn, cursor, plan, values

    def rows(self) -> list[tuple[Any, ...]]:
        cursor = self._cursor
        try:
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        except self._conn.dialect.loaded_dbapi.Error as exc:
            sql, values = self._plan.sql, self._values
            raise _sqlalchemy_error(self._conn, exc, sql, values, many=False) from exc
        finally:
            cursor.close()
        results = self._plan.results
        return [_processed(row, results) for row in rows] if results else rows


def as_retryable(exc: BaseException) -> BaseException:
    """:class:`RetryableConflict` for a database error after which the whole unit of work may
    simply run again (unique key, serialisation failure, deadlock); else ``exc`` itself."""
    retry = isinstance(exc, sa.exc.IntegrityError) or (
        isinstance(exc, sa.exc.OperationalError)
        and getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES
    )
    if not retry:
        return exc
    assert isinstance(exc, sa.exc.DBAPIError)
    conflict = RetryableConflict(str(exc.orig))
    conflict.__cause__ = exc
    return conflict


class BulkStatement:
    """A prebuilt write run for many rows straight through the driver.

    SQLAlchemy's executemany builds and processes each row's parameters in Python, which was
    most of the CPU of writing a batch.  Here the statement is compiled once per dialect;
    its parameters are converted by SQLAlchemy's own bind processors for the same columns
    (UTC instants, JSON), so what is stored is exactly what the per-row path stores.

    * SQLite: the driver's ``executemany`` runs the rows, a loop in C.
    * PostgreSQL (psycopg 3): ONE statement for all the rows, which come as one array per
      column (:func:`unnest_insert`, :func:`unnest_update`).  Through ``executemany`` the
      server ran the statement once per row: writing a batch took 6.4-6.8 ms against
      5.2-5.8 ms now (wall time, spread workload, 15 calls per batch).  A multi-row
      ``INSERT ... VALUES (...), (...)`` would be a new statement to parse and plan for
      every batch size.  Other drivers: ``executemany``.
    """

    def __init__(
        self,
        statement: sa.Insert | sa.Update,
        *,
        keyed: bool = True,
        columnar: sa.Insert | sa.Update | None = None,
    ) -> None:
        """``keyed``: an insert's rows name its columns (all rows of one statement share
        their keys); False for an insert with a VALUES clause of its own.  An insert never
        asks for the new primary key back.  ``columnar``: the PostgreSQL form, taking one
        array per row key (built for a keyed insert; required otherwise)."""
        self.insert = isinstance(statement, sa.Insert) and keyed
        if columnar is None and not self.insert:
            raise ValueError("a columnar (unnest) form is needed for PostgreSQL")
        self.statement = statement.inline() if isinstance(statement, sa.Insert) else statement
        self.columnar = columnar
        self._plans: dict[Any, _DriverPlan] = {}  # per dialect instance: its own converters

    @classmethod
    def update(cls, table: sa.Table, key: tuple[str, str], columns: Sequence[str]) -> BulkStatement:
        """Rows of :func:`keyed_update` (e.g. ``BulkStatement.update(*WALLET_CHANGE)``)."""
        return cls(keyed_update(table, key, columns), columnar=unnest_update(table, key, columns))

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        dialect = conn.dialect
        plan = self._plans.get(dialect)
        if plan is None:
            keys = list(rows[0])
            if dialect.driver != "psycopg":
                plan = _driver_plan(self.statement, dialect, keys=keys, insert=self.insert)
            else:
                statement = self.columnar
                if statement is None:
                    assert isinstance(self.statement.table, sa.Table)
                    statement = unnest_insert(self.statement.table, keys)
                plan = _driver_plan(statement, dialect, keys=keys, columnar=True)
            self._plans[dialect] = plan
        if plan.columnar:
            arrays = {key: [row[key] for row in rows] for key in rows[0]}
            _on_driver(conn, plan.sql, plan.values(arrays)).close()
        else:
            _on_driver(conn, plan.sql, [plan.values(row) for row in rows], many=True).close()


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        # SQLite admits one writer at a time; writers of this process queue on a mutex instead
        # of on SQLite's busy handler, which sleeps with back-off (up to 100 ms a try) and
        # wastes most of the time under contention.  Other processes still meet busy_timeout.
        self._writer = threading.Lock() if self.backend == "sqlite" else None

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Held around every writing transaction of this process (SQLite only; else no-op)."""
        if self._writer is None:
            yield
        else:
            with self._writer:
                yield

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[_SqlUnit]:
        if readonly:
            with self._unit(readonly) as unit:
                yield unit
        else:
            with self.writer_lock(), self._unit(readonly) as unit:
                yield unit

    def run_unit(self, unit: Callable[[Any], T]) -> T:
        with self.unit_of_work() as uow:
            return unit(uow)

    @contextmanager
    def _unit(self, readonly: bool) -> Iterator[_SqlUnit]:
        try:
            with self.engine.connect() as conn:
                if readonly:
                    conn = conn.execution_options(**{READONLY_OPTION: True})
                with conn.begin():
                    yield _SqlUnit(conn, self.backend)
        except sa.exc.DBAPIError as exc:
            conflict = as_retryable(exc)
            if conflict is exc:
                raise
            raise conflict from exc

    def close(self) -> None:
        self.engine.dispose()


def wallet_of(r: Sequence[Any]) -> Wallet:
    """A wallet from a row of :data:`WALLET_COLUMNS` (a SQLAlchemy row or a plain tuple)."""
    return Wallet(*r)


def grant_of(r: Sequence[Any]) -> Grant:
    """A grant from a row of :data:`GRANT_COLUMNS`."""
    return Grant(*r)


def job_of(r: Sequence[Any]) -> Job:
    """A job from a row of :data:`JOB_COLUMNS` (hold legs are stored as ``[[grant, amount]]``)."""
    values = list(r)
    values[_HOLD_LEGS] = tuple(HoldLeg(g, a) for g, a in values[_HOLD_LEGS])
    return Job(*values)


def wallet_row(w: Wallet) -> dict[str, Any]:
    return {
        "id": w.id,
        "owner_kind": w.owner_kind,
        "overdraft_limit": w.overdraft_limit,
        "hold_ttl_s": w.hold_ttl_s,
        "held": w.held,
        "debt": w.debt,
        "created_at": w.created_at,
        "updated_at": w.updated_at,
    }


def wallet_update_row(w: Wallet) -> dict[str, Any]:
    return {"w_id": w.id, "held": w.held, "debt": w.debt, "updated_at": w.updated_at}


def grant_row(g: Grant) -> dict[str, Any]:
    return {
        "id": g.id,
        "wallet_id": g.wallet_id,
        "kind": g.kind,
        "amount": g.amount,
        "remaining": g.remaining,
        "priority": g.priority,
        "effective_at": g.effective_at,
        "expires_at": g.expires_at,
        "source": g.source,
        "state": g.state,
        "created_at": g.created_at,
        "closed_at": g.closed_at,
    }


def grant_update_row(g: Grant) -> dict[str, Any]:
    return {"g_id": g.id, "remaining": g.remaining, "state": g.state, "closed_at": g.closed_at}


def job_update_row(j: Job) -> dict[str, Any]:
    return {
        "j_id": j.id,
        "state": j.state,
        "credits_held": j.credits_held,
        "credits_used": j.credits_used,
        "written_off": j.written_off,
        "reason": j.reason,
        "updated_at": j.updated_at,
        "resolved_at": j.resolved_at,
    }


def transaction_row(tx: Transaction) -> dict[str, Any]:
    return {
        "id": tx.id,
        "wallet_id": tx.wallet_id,
        "kind": tx.kind,
        "job_id": tx.job_id,
        "grant_id": tx.grant_id,
        "idem_scope": tx.idem_scope,
        "idem_key": tx.idem_key,
        "memo": tx.memo,
        "created_at": tx.created_at,
    }


def entry_rows(tx: Transaction) -> list[dict[str, Any]]:
    """The rows of ``_INSERT_ENTRY`` for a transaction's postings (written after it)."""
    return [{"tx_id": tx.id, "account": p.account, "amount": p.amount} for p in tx.postings]


def idempotency_row(r: IdempotencyRecord) -> dict[str, Any]:
    return {
        "scope": r.scope,
        "key": r.key,
        "operation": r.operation,
        "fingerprint": r.fingerprint,
        "result_kind": r.result_kind,
        "result_id": r.result_id,
        "outcome": r.outcome,
        "created_at": r.created_at,
    }


def idempotency_record(r: Sequence[Any]) -> IdempotencyRecord:
    """An idempotency record from a row of :data:`IDEM_COLUMNS`."""
    return IdempotencyRecord(*r)


def event_row(e: Event) -> dict[str, Any]:
    return {
        "wallet_id": e.wallet_id,
        "type": e.type,
        "subject_id": e.subject_id,
        "payload": dict(e.payload),
        "created_at": e.created_at,
        "published_at": None,
    }


def job_row(j: Job) -> dict[str, Any]:
    return {
        "id": j.id,
        "wallet_id": j.wallet_id,
        "kind": j.kind,
        "model": j.model,
        "state": j.state,
        "params": dict(j.params),
        "generations": j.generations,
        "quote": None if j.quote is None else dict(j.quote),
        "catalog": j.catalog,
        "catalog_version": j.catalog_version,
        "catalog_hash": j.catalog_hash,
        "credits_quoted": j.credits_quoted,
        "hold_amount": j.hold_amount,
        "credits_held": j.credits_held,
        "credits_used": j.credits_used,
        "written_off": j.written_off,
        "hold_legs": [[leg.grant_id, leg.amount] for leg in j.hold_legs],
        "hold_expires_at": j.hold_expires_at,
        "submitted_by": j.submitted_by,
        "meta": dict(j.metadata),
        "reason": j.reason,
        "created_at": j.created_at,
        "updated_at": j.updated_at,
        "resolved_at": j.resolved_at,
    }


class _SqlUnit:
    def __init__(self, conn: Connection, backend: str) -> None:
        self.c = conn
        self.backend = backend

    # wallets
    def lock_wallet(self, wallet_id: str) -> Wallet | None:
        q = _LOCK_WALLET if self.backend == "postgresql" else _SELECT_WALLET
        row = self.c.execute(q, {"id": wallet_id}).first()
        return None if row is None else wallet_of(row)

    def get_wallet(self, wallet_id: str) -> Wallet | None:
        row = self.c.execute(_SELECT_WALLET, {"id": wallet_id}).first()
        return None if row is None else wallet_of(row)

    def insert_wallet(self, wallet: Wallet) -> None:
        self.c.execute(_INSERT_WALLET, wallet_row(wallet))

    def update_wallet(self, wallet: Wallet) -> None:
        self.c.execute(_UPDATE_WALLET, wallet_update_row(wallet))

    def list_wallets(self, *, after_id: str | None, limit: int) -> list[Wallet]:
        q = sa.select(*WALLET_COLUMNS).order_by(t.wallets.c.id).limit(limit)
        if after_id is not None:
            q = q.where(t.wallets.c.id > after_id)
        return [wallet_of(r) for r in self.c.execute(q)]

    # grants
    def wallet_grants(
        self, wallet_id: str, *, active_only: bool, nonempty_only: bool = False
    ) -> list[Grant]:
        if nonempty_only:
            q = _NONEMPTY_ACTIVE_GRANTS if active_only else _NONEMPTY_GRANTS
        else:
            q = _ACTIVE_WALLET_GRANTS if active_only else _WALLET_GRANTS
        return [grant_of(r) for r in self.c.execute(q, {"wallet_id": wallet_id})]

    def get_grant(self, grant_id: str) -> Grant | None:
        row = self.c.execute(_SELECT_GRANT, {"id": grant_id}).first()
        return None if row is None else grant_of(row)

    def insert_grant(self, grant: Grant) -> None:
        self.c.execute(_INSERT_GRANT, grant_row(grant))

    def update_grant(self, grant: Grant) -> None:
        self.c.execute(_UPDATE_GRANT, grant_update_row(grant))

    # jobs
    def get_job(self, job_id: str) -> Job | None:
        row = self.c.execute(_SELECT_JOB, {"id": job_id}).first()
        return None if row is None else job_of(row)

    def insert_job(self, job: Job) -> Job:
        result = self.c.execute(_INSERT_JOB, job_row(job))
        pk = result.inserted_primary_key
        assert pk is not None
        return replace(job, seq=int(pk[0]))

    def update_job(self, job: Job) -> None:
        self.c.execute(_UPDATE_JOB, job_update_row(job))

    def list_jobs(
        self,
        wallet_id: str,
        *,
        after_seq: int | None,
        limit: int,
        states: Sequence[str] | None,
    ) -> list[Job]:
        q = sa.select(*JOB_COLUMNS).where(t.jobs.c.wallet_id == wallet_id)
        if after_seq is not None:
            q = q.where(t.jobs.c.seq > after_seq)
        if states is not None:
            q = q.where(t.jobs.c.state.in_(list(states)))
        return [job_of(r) for r in self.c.execute(q.order_by(t.jobs.c.seq).limit(limit))]

    # ledger
    def record(self, transaction: Transaction) -> None:
        self.c.execute(_INSERT_TX, transaction_row(transaction))
        self.c.execute(_INSERT_ENTRY, entry_rows(transaction))

    def history(self, wallet_id: str, *, before_seq: int | None, limit: int) -> list[Transaction]:
        q = sa.select(t.transactions).where(t.transactions.c.wallet_id == wallet_id)
        if before_seq is not None:
            q = q.where(t.transactions.c.seq < before_seq)
        rows = list(self.c.execute(q.order_by(t.transactions.c.seq.desc()).limit(limit)))
        if not rows:
            return []
        postings: dict[int, list[Posting]] = defaultdict(list)
        eq = (
            sa.select(t.entries.c.tx_seq, t.entries.c.account, t.entries.c.amount)
            .where(t.entries.c.tx_seq.in_([r.seq for r in rows]))
            .order_by(t.entries.c.seq)
        )
        for e in self.c.execute(eq):
            postings[e.tx_seq].append(Posting(e.account, e.amount))
        return [
            Transaction(
                id=r.id,
                wallet_id=r.wallet_id,
                kind=r.kind,
                postings=tuple(postings[r.seq]),
                created_at=r.created_at,
                job_id=r.job_id,
                grant_id=r.grant_id,
                idem_scope=r.idem_scope,
                idem_key=r.idem_key,
                memo=r.memo,
                seq=r.seq,
            )
            for r in rows
        ]

    # idempotency, outbox
    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = self.c.execute(_SELECT_IDEM, {"scope": scope, "key": key}).first()
        return None if row is None else idempotency_record(row)

    def insert_idempotency(self, record: IdempotencyRecord) -> None:
        self.c.execute(_INSERT_IDEM, idempotency_row(record))

    def emit(self, event: Event) -> None:
        self.c.execute(_INSERT_EVENT, event_row(event))

    def events(self, *, after: tuple[int, int] | None, limit: int) -> list[Event]:
        o = t.outbox
        if self.backend == "postgresql":
            # seq is handed out before commit, so a lower seq can commit after a higher one.
            # Hand out only events of transactions older than every transaction of this
            # database still running (the horizon), in (txid, seq) order: whatever commits
            # later has a txid at or above the horizon, so it sorts after everything handed
            # out so far.
            q = (
                sa.select(o)
                .where(o.c.txid < _OUTBOX_HORIZON)
                .order_by(o.c.txid, o.c.seq)
                .limit(limit)
            )
            if after is not None:
                mark = sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
                q = q.where(sa.tuple_(o.c.txid, o.c.seq) > mark)
        else:
            # SQLite admits one writer at a time: seq order is commit order.
            q = sa.select(o).order_by(o.c.seq).limit(limit)
            if after is not None:
                q = q.where(o.c.seq > after[1])
        return [
            Event(
                wallet_id=r.wallet_id,
                type=r.type,
                subject_id=r.subject_id,
                created_at=r.created_at,
                payload=r.payload,
                seq=r.seq,
                txid=r.txid,
            )
            for r in self.c.execute(q)
        ]

    # sweeper, auditor
    def due_holds(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        q = (
            sa.select(t.jobs.c.id, t.jobs.c.wallet_id)
            .where(t.jobs.c.state == "pending", t.jobs.c.hold_expires_at <= now)
            .order_by(t.jobs.c.hold_expires_at)
            .limit(limit)
        )
        return [(r.id, r.wallet_id) for r in self.c.execute(q)]

    def due_grants(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        q = (
            sa.select(t.grants.c.id, t.grants.c.wallet_id)
            .where(t.grants.c.state == "active", t.grants.c.expires_at <= now)
            .order_by(t.grants.c.expires_at)
            .limit(limit)
        )
        return [(r.id, r.wallet_id) for r in self.c.execute(q)]

    def audit_snapshot(self) -> AuditSnapshot:
        e, tx = t.entries, t.transactions
        balances: Mapping[str, int] = {
            r.account: int(r.total)
            for r in self.c.execute(
                sa.select(e.c.account, sa.func.sum(e.c.amount).label("total")).group_by(e.c.account)
            )
        }
        unbalanced = [
            (r.id, int(r.total))
            for r in self.c.execute(
                sa.select(tx.c.id, sa.func.coalesce(sa.func.sum(e.c.amount), 0).label("total"))
                .select_from(tx.outerjoin(e, e.c.tx_seq == tx.c.seq))
                .group_by(tx.c.seq, tx.c.id)
                .having(
                    sa.or_(
                        sa.func.coalesce(sa.func.sum(e.c.amount), 0) != 0,
                        sa.func.count(e.c.seq) == 0,
                    )
                )
            )
        ]
        job_txs: dict[str, list[str]] = defaultdict(list)
        for r in self.c.execute(
            sa.select(tx.c.job_id, tx.c.kind).where(tx.c.job_id.is_not(None)).order_by(tx.c.seq)
        ):
            job_txs[r.job_id].append(r.kind)
        keys = [
            (r.idem_scope, r.idem_key)
            for r in self.c.execute(
                sa.select(tx.c.idem_scope, tx.c.idem_key).where(tx.c.idem_key.is_not(None))
            )
        ]
        idem = frozenset(
            (r.scope, r.key)
            for r in self.c.execute(sa.select(t.idempotency.c.scope, t.idempotency.c.key))
        )
        return AuditSnapshot(
            account_balances=balances,
            unbalanced_transactions=unbalanced,
            wallets=[wallet_of(r) for r in self.c.execute(sa.select(*WALLET_COLUMNS))],
            grants=[grant_of(r) for r in self.c.execute(sa.select(*GRANT_COLUMNS))],
            jobs=[job_of(r) for r in self.c.execute(sa.select(*JOB_COLUMNS))],
            job_transactions=dict(job_txs),
            transaction_keys=keys,
            idempotency_keys=idem,
        )
