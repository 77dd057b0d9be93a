"""Prebuilt statements run on the driver's own cursor, past SQLAlchemy's execution layer.

Why: the group-commit writer (:mod:`gencredits.storage.sql.batch`) runs every batch's
statements on one thread, so what it pays per statement and per row is paid serially.
SQLAlchemy's execution layer (events, execution context, result objects) made loading a
batch's rows noticeably slower than the driver's cursor, and its ``executemany`` spent most
of the writer's CPU building each row's parameters in Python (figures: bench/RESULTS.md).
What is written and read stays exactly what ``Connection.execute`` writes and reads: each
statement is compiled by SQLAlchemy once per dialect, and its values go through SQLAlchemy's
own bind and result processors.

This is the ONE module of gencredits that uses psycopg (pipeline mode, binary arrays) and
SQLAlchemy's private API (a compiled statement's ``_bind_processors`` and
``_result_columns``, a type's ``_cached_result_processor``, the pooled connection's DBAPI
cursor).  Written for SQLAlchemy 2.0 (``SQLAlchemy>=2.0.30,<2.1`` in pyproject.toml): a new
minor release of SQLAlchemy must be checked against this module (see
``tests/ledger/test_driver.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.deadline import NS_PER_S, remaining
from gencredits.storage.sql.statements import keyed_update, unnest_insert, unnest_update

__all__ = [
    "BulkStatement",
    "DirectSelect",
    "InList",
    "RowStatement",
    "SentSelect",
    "bounded_connect",
    "driver_pipeline",
    "run_driver_sql",
]


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
    #: the parameters' names, in the driver's positional order
    names: tuple[str, ...] = ()

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
    statement takes arrays, sent in binary format: as text, psycopg escapes every quote mark
    of an array of JSON job quotes, several times slower (figures: bench/RESULTS.md)."""
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
        names=tuple(names),
    )


def _on_driver(conn: Connection, sql: str, params: Any, *, many: bool = False) -> Any:
    """Run ``sql`` on a driver cursor of ``conn`` (inside its transaction), without
    SQLAlchemy's execution layer (events, execution context, result objects), a visible
    share of the time of a batch's small reads (figures: bench/RESULTS.md).  A driver error
    is raised as SQLAlchemy would raise it (``IntegrityError``, ``OperationalError``, ...),
    and a lost connection is invalidated, so callers handle errors the same way on either
    path.  Returns the open cursor, for its rows (see :class:`SentSelect`)."""
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


def run_driver_sql(conn: Connection, sql: str) -> None:
    """Run a fixed statement without parameters or rows (``SAVEPOINT ...``) on the driver;
    inside a :func:`driver_pipeline` block it goes out with the statements around it."""
    _on_driver(conn, sql, None).close()


class DirectSelect:
    """A prebuilt SELECT (or a write with ``RETURNING``) run on a driver cursor (see
    :func:`_on_driver`); its rows are plain tuples, converted by SQLAlchemy's own result
    processors for its columns."""

    def __init__(self, statement: sa.Select[Any] | sa.Update) -> None:
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


class BulkStatement:
    """A prebuilt write run for many rows straight through the driver.

    SQLAlchemy's executemany builds and processes each row's parameters in Python, which was
    most of the CPU of writing a batch.  Here the statement is compiled once per dialect;
    its parameters are converted by SQLAlchemy's own bind processors for the same columns
    (UTC instants, JSON), so what is stored is exactly what the per-row path stores.

    * SQLite: the driver's ``executemany`` runs the rows, a loop in C.
    * PostgreSQL (psycopg 3): ONE statement for all the rows, which come as one array per
      column (:func:`unnest_insert`, :func:`unnest_update`).  Through ``executemany`` the
      server ran the statement once per row, and writing a batch took longer (figures:
      bench/RESULTS.md).  A multi-row
      ``INSERT ... VALUES (...), (...)`` would be a new statement to parse and plan for
      every batch size.  Other drivers: ``executemany``.
    """

    def __init__(
        self,
        statement: sa.Insert | sa.Update,
        *,
        keyed: bool = True,
        columnar: sa.Insert | sa.Update | None = None,
        scalars: bool = False,
    ) -> None:
        """``keyed``: an insert's rows name its columns (all rows of one statement share
        their keys); False for an insert with a VALUES clause of its own.  An insert never
        asks for the new primary key back.  ``columnar``: the PostgreSQL form, taking one
        array per row key (built for a keyed insert; required otherwise).  ``scalars`` (a
        keyed insert on PostgreSQL): a column whose value is the same in every row is sent
        once, as a scalar, not as an array of copies (see :func:`_same_keys`): dumping the
        arrays was most of the CPU of writing a tick's set of renewals.  Other drivers: such a
        value is converted once, not once per row."""
        self.insert = isinstance(statement, sa.Insert) and keyed
        self.scalars = scalars and self.insert and columnar is None
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
        same = _same_keys(rows) if self.scalars and len(rows) > 1 else frozenset()
        if same and dialect.driver == "psycopg" and len(same) < len(rows[0]):
            self._run_with_scalars(conn, rows, same)
            return
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
        elif same:
            _on_driver(conn, plan.sql, _rows_with_same(plan, rows, same), many=True).close()
        else:
            _on_driver(conn, plan.sql, [plan.values(row) for row in rows], many=True).close()

    def _run_with_scalars(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]], same: frozenset[str]
    ) -> None:
        """PostgreSQL: ONE statement, the columns in ``same`` as scalars, the others arrays."""
        keys = list(rows[0])
        plan = self._plans.get((conn.dialect, same))
        if plan is None:
            assert isinstance(self.statement.table, sa.Table)
            statement = unnest_insert(self.statement.table, keys, scalars=same)
            plan = _driver_plan(statement, conn.dialect, keys=keys, columnar=True)
            self._plans[(conn.dialect, same)] = plan
        first = rows[0]
        params = {k: first[k] if k in same else [row[k] for row in rows] for k in keys}
        _on_driver(conn, plan.sql, plan.values(params)).close()


class RowStatement:
    """A prebuilt write run once per row, in the rows' order, through the driver's
    ``executemany`` on every backend (psycopg 3: each row queued in the pipeline, so inside a
    :func:`driver_pipeline` block the rows go out with the statements around it, no round
    trip of their own).  For writes whose rows must be met in a given order (an upsert or an
    update of shared rows in key order: no deadlock), which one ``unnest`` statement would
    not promise.  Parameters go through SQLAlchemy's bind processors, as in
    :class:`BulkStatement`."""

    def __init__(self, statement: sa.Insert | sa.Update) -> None:
        self.insert = isinstance(statement, sa.Insert)
        self.statement = statement.inline() if isinstance(statement, sa.Insert) else statement
        self._plans: dict[Any, _DriverPlan] = {}  # per dialect instance and row keys

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """``rows`` (all with the same keys) in their order."""
        if not rows:
            return
        keys = tuple(rows[0])
        plan = self._plans.get((conn.dialect, keys))
        if plan is None:
            plan = _driver_plan(self.statement, conn.dialect, keys=keys, insert=self.insert)
            self._plans[(conn.dialect, keys)] = plan
        _on_driver(conn, plan.sql, [plan.values(row) for row in rows], many=True).close()


#: Types whose equal values are stored alike (a Decimal or a JSON document may be equal to
#: another and still be written differently: those count as the same only when identical).
_PLAIN = (str, int, type(None), datetime)


def _same_keys(rows: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """The keys whose value is the same in every row (a column holds values of one type)."""
    same = []
    for key, value in rows[0].items():
        if type(value) in _PLAIN:
            if len({row[key] for row in rows}) == 1:
                same.append(key)
        elif len({id(row[key]) for row in rows}) == 1:
            same.append(key)
    return frozenset(same)


def _rows_with_same(
    plan: _DriverPlan, rows: Sequence[Mapping[str, Any]], same: frozenset[str]
) -> list[tuple[Any, ...]]:
    """Each row's values for ``executemany``, those of the keys in ``same`` (equal in every
    row) converted once, with the first row, not once per row."""
    template = list(plan.values(rows[0]))
    processors = dict(plan.binds)
    varying = [
        (i, name, processors.get(i))
        for i, name in enumerate(plan.names)
        if name not in same and name in rows[0]
    ]
    out = []
    for row in rows:
        values = template.copy()
        for i, name, process in varying:
            value = row[name]
            values[i] = value if process is None else process(value)
        out.append(tuple(values))
    return out


class InList:
    """A SELECT with ``IN (...)`` lists, compiled once per list length rounded up to a power
    of two (the list padded by repeating its last value), run on the driver's cursor
    (:class:`~gencredits.storage.sql.driver.DirectSelect`): rows are tuples.  An ``expanding``
    parameter would rebuild the SQL text on every call, a visible share of loading a batch."""

    def __init__(self, build: Callable[..., sa.Select[Any]]) -> None:
        self.build = build
        self._by_size: dict[tuple[int, ...], DirectSelect] = {}

    def send(self, conn: Connection, *lists: Sequence[str]) -> SentSelect:
        sizes = tuple(1 << (len(values) - 1).bit_length() for values in lists)
        statement = self._by_size.get(sizes)
        if statement is None:
            marks: list[list[sa.BindParameter[str]]] = [
                [sa.bindparam(f"p{j}_{i}") for i in range(n)] for j, n in enumerate(sizes)
            ]
            statement = self._by_size[sizes] = DirectSelect(self.build(*marks))
        params: dict[str, str] = {}
        for j, (values, size) in enumerate(zip(lists, sizes, strict=True)):
            for i in range(size):
                params[f"p{j}_{i}"] = values[min(i, len(values) - 1)]
        return statement.send(conn, params)


#: libpq's shortest connect timeout (it counts whole seconds, and rounds 1 up to 2).
MIN_CONNECT_S = 2


def bounded_connect(params: Mapping[str, Any], wait_s: float | None) -> Any:
    """A psycopg 3 connection (``params`` as SQLAlchemy gives them to ``connect``) whose every
    wait on the server (a statement, a commit, a ping) ends within ``wait_s`` seconds, or
    sooner if the request's deadline is nearer (:mod:`gencredits.deadline`; ``None``: no
    limit).

    Server-side timeouts and TCP keepalives do not cover every stall: a proxy or a pooler that
    stops forwarding still acknowledges our packets, so the kernel sees a healthy connection
    and the server never sees the statement it would time out.  After ``wait_s`` the
    connection is closed and the wait raises ``OperationalError`` (SQLAlchemy then counts it
    as a disconnect and drops it from its pool); the outcome of a commit cut this way is
    unknown, which idempotency keys resolve (a replay answers what was stored, or does it)."""
    import psycopg

    left_ns = remaining(None)  # what the request's deadline leaves (None: no request)
    if left_ns is not None and "connect_timeout" in params:  # whole seconds, at least 2 (libpq)
        if left_ns < MIN_CONNECT_S * NS_PER_S:
            raise psycopg.OperationalError(
                f"no time left to connect to the database ({left_ns / NS_PER_S:.2f} s of the "
                "deadline)"
            )
        timeout = max(MIN_CONNECT_S, min(int(params["connect_timeout"]), left_ns // NS_PER_S))
        params = {**params, "connect_timeout": timeout}
    return _bounded_class(wait_s).connect(**params)


@cache
def _bounded_class(wait_s: float | None) -> Any:
    """The connection class of :func:`bounded_connect` for ``wait_s`` (made once)."""
    import psycopg

    class _Bounded(psycopg.Connection[Any]):
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            if timeout is None:
                left_ns = remaining(None if wait_s is None else round(wait_s * NS_PER_S))
                limit = None if left_ns is None else left_ns / NS_PER_S
            else:
                limit = timeout
            try:
                return super().wait(gen, interval, limit)
            except psycopg.errors._WaitTimeout:
                self.pgconn.finish()  # the connection is in an unknown state: never reused
                raise psycopg.OperationalError(
                    f"the database did not answer within {limit:.2f} s; connection closed"
                ) from None

    return _Bounded
