"""Database engines and schema migrations (SQLite by default, PostgreSQL via psycopg 3).

``make_engine(url)`` gives an engine with the ledger's durability settings:

* SQLite: WAL journal, ``synchronous=FULL`` (a committed hold survives a power cut; NORMAL in
  WAL mode may lose the last commits on power loss, so it is not used), a busy timeout, foreign
  keys on, and ``BEGIN IMMEDIATE`` for write transactions so two writers never both read and
  then fail to upgrade their lock (read-only units of work use a plain deferred ``BEGIN``).
* PostgreSQL: ``postgresql+psycopg://...``; writes at read committed, with the wallet row
  locked ``FOR UPDATE`` by the ledger store for every change.

Reads (:func:`read_only`, :func:`read_transaction`): every read-only transaction sees ONE
snapshot of the database, however many statements it runs, so a read never mixes two
states (credits moving from a hold back to a grant between two statements, counted in both):

* PostgreSQL: ``REPEATABLE READ READ ONLY``.  The snapshot is taken at the transaction's
  first statement and kept to its end.  Repeatable read is enough (serializable's
  ``DEFERRABLE`` would only add waiting): every writer of a wallet locks its row first, so a
  wallet's changes commit one after another and any snapshot holds a prefix of them; every
  transaction is balanced, so sums over many wallets are consistent too.  A read-only
  transaction takes no lock and never fails with a serialisation error; psycopg folds the
  level into its ``BEGIN``, so it costs no extra round trip.
* SQLite: a deferred ``BEGIN``.  In WAL mode the transaction takes its snapshot at its first
  read and keeps it until it ends; writers append to the WAL meanwhile without disturbing
  it.  That is already a snapshot: nothing more is needed.

``upgrade(engine_or_url)`` runs Alembic to head from the migrations shipped in the package;
``current_revision`` and ``is_current`` serve readiness probes.

URLs: ``postgres://`` and ``postgresql://`` name the driver the project uses (psycopg 3);
a URL SQLAlchemy cannot read or has no driver for is an
:class:`~gencredits.errors.InvalidSetting` naming ``GENCREDITS_DATABASE_URL``.
:func:`check_database` is what a read runs first: it never creates anything, and a database
that is missing, unreachable or never migrated is one :class:`~gencredits.errors.Unavailable`
line saying what to do (:func:`database_error` maps the driver's errors the same way).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from gencredits.errors import GencreditsError, InvalidSetting, Unavailable
from gencredits.storage.sql.driver import bounded_connect

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ENV_DATABASE_URL",
    "alembic_config",
    "check_database",
    "current_revision",
    "database_error",
    "database_url",
    "head_revision",
    "is_current",
    "make_engine",
    "normalise_url",
    "pg_connect_args",
    "read_only",
    "read_transaction",
    "redacted",
    "upgrade",
]

ENV_DATABASE_URL = "GENCREDITS_DATABASE_URL"
ENV_POOLED = "GENCREDITS_DATABASE_POOLED"
DEFAULT_DATABASE_URL = "sqlite:///./var/gencredits.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Execution option that marks a connection's transactions as read-only (SQLite: deferred
#: BEGIN).  Set it through :func:`read_only`, which also gives PostgreSQL its snapshot.
READONLY_OPTION = "gencredits_readonly"

#: PostgreSQL's isolation level for read-only transactions: one snapshot per transaction.
SNAPSHOT_ISOLATION = "REPEATABLE READ"


def read_only(conn: Connection) -> Connection:
    """``conn``, its transactions made read-only snapshots (see the module's docstring):
    ``REPEATABLE READ READ ONLY`` on PostgreSQL, a deferred ``BEGIN`` on SQLite.  Call it
    before the connection's transaction begins; the pool resets the connection on return."""
    options: dict[str, Any] = {READONLY_OPTION: True}
    if conn.dialect.name == "postgresql":
        options.update(isolation_level=SNAPSHOT_ISOLATION, postgresql_readonly=True)
    return conn.execution_options(**options)


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-only snapshot transaction on ``engine`` (see :func:`read_only`), ended when
    the block ends."""
    with engine.connect() as conn, read_only(conn).begin():
        yield conn


def database_url(url: str | None = None) -> str:
    """``url``, else ``$GENCREDITS_DATABASE_URL``, else the SQLite file under ``./var``."""
    return url or os.environ.get(ENV_DATABASE_URL) or DEFAULT_DATABASE_URL


def json_dumps(value: Any) -> str:
    """JSON columns' text: orjson, several times faster than ``json.dumps`` on a job's quote
    (figures: bench/RESULTS.md), falling back to ``json`` for what orjson refuses (integers
    beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


#: How a person sets the database, named in every message about it.
SETTING = f"{ENV_DATABASE_URL} (--database-url)"
URL_EXAMPLES = "sqlite:///PATH/TO/FILE.db or postgresql://USER@HOST:5432/NAME"
#: Drivers written without ``+driver`` that mean the one the project ships (psycopg 3).
POSTGRES_NAMES = frozenset({"postgres", "postgresql"})


def normalise_url(url: str | None = None) -> sa.URL:
    """``url`` (see :func:`database_url`) parsed; ``postgres://`` and ``postgresql://`` become
    ``postgresql+psycopg://``.  A URL that cannot be parsed is an :class:`InvalidSetting`."""
    text = database_url(url)
    try:
        parsed = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise InvalidSetting.for_field(
            ENV_DATABASE_URL, text, f"set {SETTING} to a URL such as {URL_EXAMPLES}"
        ) from None
    if parsed.drivername in POSTGRES_NAMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def redacted(url: str | sa.URL | None = None) -> str:
    """The URL as it may be printed: without its password."""
    parsed = url if isinstance(url, sa.URL) else normalise_url(url)
    return parsed.render_as_string(hide_password=True)


def make_engine(
    url: str | None = None,
    *,
    wait_s: float | None = None,
    pooled: bool | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url`` (see :func:`database_url`) with the ledger's settings applied.

    PostgreSQL only: ``wait_s`` bounds every wait on the server (see :func:`pg_wait_options`;
    ``None``: connect in at most :data:`CONNECT_TIMEOUT_S`, then wait as long as it takes,
    which is what migrations and a full audit need); ``pooled``: the URL points at a pooler in
    transaction mode (pgbouncer), so no prepared statements and no session settings (``None``:
    as ``$GENCREDITS_DATABASE_POOLED`` says, so the CLI follows the service's setting)."""
    resolved = normalise_url(url)
    if pooled is None:
        pooled = os.environ.get(ENV_POOLED, "").strip().lower() in ("1", "true", "yes", "on")
    # Reading stays with ``json``: exact for any integer, and it reads what it wrote.
    kwargs = {"json_serializer": json_dumps, **kwargs}
    try:
        if resolved.get_backend_name() == "sqlite":
            return _sqlite_engine(resolved, **kwargs)
        options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 40}
        connect_args = pg_connect_args(wait_s, pooled)
        if wait_s is not None:
            options["pool_timeout"] = wait_s  # a checkout waits no longer than a statement
        options.update(kwargs)
        options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
        engine = sa.create_engine(resolved, **options)
    except (sa.exc.NoSuchModuleError, ImportError):
        raise InvalidSetting.for_field(
            ENV_DATABASE_URL,
            redacted(resolved),
            f"gencredits runs on SQLite and PostgreSQL: set {SETTING} to {URL_EXAMPLES}",
        ) from None
    if engine.dialect.driver == "psycopg":

        @event.listens_for(engine, "do_connect")
        def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            return bounded_connect(cparams, wait_s)

    return engine


#: How long opening a PostgreSQL connection may take when no wait limit is set.
CONNECT_TIMEOUT_S = 10


def pg_connect_args(wait_s: float | None, pooled: bool) -> dict[str, Any]:
    """psycopg's connection arguments for the waits of :func:`make_engine`.

    * ``connect_timeout``: ``wait_s`` rounded down (libpq counts whole seconds, at least 2),
      less if the request's deadline is nearer;
    * TCP keepalives after 1 s idle, every second, 3 unanswered probes, and
      ``tcp_user_timeout`` = ``wait_s``: a peer that vanished (a cut cable, a dead host) is
      noticed by the kernel instead of waited on for the system's 2 hours;
    * ``statement_timeout`` and ``lock_timeout`` = 80 % of ``wait_s`` (sent as the
      ``options`` startup parameter, for this service's own sessions only): the server
      gives up first and says why, before the client cuts the connection;
    * ``pooled``: ``prepare_threshold=None`` (psycopg prepares no statement: a pooler in
      transaction mode may run the next statement on another server connection) and no
      ``options`` (pgbouncer refuses unknown startup parameters; set the timeouts on the
      role instead: ``ALTER ROLE ... SET statement_timeout = ...``).
    """
    args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    if pooled:
        args["prepare_threshold"] = None
    if wait_s is None:
        return args
    server_ms = max(1, int(wait_s * 800))
    args.update(
        connect_timeout=max(2, int(wait_s)),
        keepalives=1,
        keepalives_idle=1,
        keepalives_interval=1,
        keepalives_count=3,
        tcp_user_timeout=max(1, int(wait_s * 1000)),
    )
    if not pooled:
        args["options"] = f"-c statement_timeout={server_ms} -c lock_timeout={server_ms}"
    return args


def _sqlite_engine(url: sa.URL, **kwargs: Any) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    }
    if database in ("", ":memory:"):
        # One shared connection, or every checkout would see a different empty database.
        options["poolclass"] = sa.pool.StaticPool
    else:
        options.update(pool_size=8, max_overflow=56)
    options.update(kwargs)
    engine = sa.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own BEGIN is
        # deferred, which lets two writers deadlock on the read->write lock upgrade).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A read's deferred BEGIN takes its WAL snapshot at its first read, kept to the end.
        readonly = conn.get_execution_options().get(READONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def alembic_config(engine: Engine | None = None) -> Any:
    """The Alembic configuration for the migrations shipped inside the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gencredits") / "migrations"))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def _engine(engine_or_url: Engine | str | None) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


def upgrade(engine_or_url: Engine | str | None = None, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest), creating tables as needed."""
    from alembic import command

    _migrate(engine_or_url, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine_or_url: Engine | str | None, revision: str) -> None:
    """Migrate the database back to ``revision`` (each revision's ``downgrade``)."""
    from alembic import command

    _migrate(engine_or_url, lambda cfg: command.downgrade(cfg, revision))


def _migrate(engine_or_url: Engine | str | None, run: Callable[[Any], None]) -> None:
    """Run migrations in one transaction.  SQLite: with foreign keys off, as its manual says
    for rebuilding a table that others reference (a rebuild drops the old table, which the
    check would refuse), then every key checked before the commit."""
    engine, owned = _engine(engine_or_url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if sqlite:  # outside any transaction (the pragma is ignored inside one)
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    cfg = alembic_config(engine)
                    cfg.attributes["connection"] = conn
                    run(cfg)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise RuntimeError(f"foreign keys broken by the migration: {broken}")
            finally:
                if sqlite:
                    raw.execute("PRAGMA foreign_keys=ON")
    finally:
        if owned:
            engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this version of gencredits."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine_or_url: Engine | str | None = None) -> str | None:
    """The revision the database is at (``None`` when it was never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine, owned = _engine(engine_or_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def is_current(engine_or_url: Engine | str | None = None) -> bool:
    """True when the database is migrated to :func:`head_revision` (a readiness probe)."""
    try:
        return current_revision(engine_or_url) == head_revision()
    except sa.exc.OperationalError:
        return False


def _sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL (None for an in-memory or URI database)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _missing(what: str, url: sa.URL) -> Unavailable:
    return Unavailable(
        f"{what} ({SETTING} is {redacted(url)}); run `gencredits db upgrade` to create and "
        "migrate it (`make run` does too), or point the setting at an existing database",
        details={"setting": ENV_DATABASE_URL, "value": redacted(url)},
    )


def check_database(url: str | None = None) -> None:
    """Refuse a read of a database that is not there, creating nothing: a missing SQLite file,
    a server that cannot be reached, a database that does not exist or was never migrated."""
    resolved = normalise_url(url)
    path = _sqlite_file(resolved)
    if path is not None and not path.is_file():
        raise _missing(f"no database at {path}", resolved)
    if resolved.get_backend_name() == "sqlite" and path is None:
        return  # in memory: nothing to find
    engine = make_engine(resolved.render_as_string(hide_password=False))
    try:
        revision = current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        raise database_error(exc, resolved) from None
    finally:
        engine.dispose()
    if revision is None:
        raise _missing("the database has no gencredits tables yet", resolved)


def database_error(exc: BaseException, url: str | sa.URL | None = None) -> GencreditsError:
    """The driver's error ``exc`` as one line naming the setting and what to do (an
    :class:`Unavailable`: the database cannot be reached, does not exist or refused us)."""
    parsed = url if isinstance(url, sa.URL) else normalise_url(url)
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = cause[0].strip() if cause else type(exc).__name__
    where = redacted(parsed)
    if "does not exist" in reason and parsed.database:
        todo = f"create it (createdb {parsed.database}) or point {SETTING} at one that exists"
    elif parsed.get_backend_name() == "sqlite":
        todo = f"check the file's path and permissions in {SETTING}"
    else:
        todo = f"start the server or correct {SETTING}"
    return Unavailable(
        f"cannot use the database at {where}: {reason}; {todo}",
        details={"setting": ENV_DATABASE_URL, "value": where, "reason": reason},
    )
