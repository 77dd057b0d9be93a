"""Bounded waits below the service: a group-commit caller's deadline, the request deadline
that the waits share, and the connection settings given to PostgreSQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gencredits.deadline import NS_PER_S, deadline, remaining
from gencredits.errors import Unavailable
from gencredits.ledger.store import UnitHints
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, pg_connect_args, upgrade
from gencredits.storage.sql.store import SqlStore


def test_a_caller_past_the_deadline_is_unavailable_and_its_queued_unit_never_runs(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/w.db")
    upgrade(engine)
    store = GroupCommitStore(SqlStore(engine), deadline_s=0.2)
    release, ran = threading.Event(), []

    def stuck(_unit: Any) -> str:
        release.wait(5)  # a batch the database does not answer
        return "stuck"

    def first_caller() -> None:
        with pytest.raises(Unavailable):
            store.run_unit(stuck, UnitHints())

    try:
        first = threading.Thread(target=first_caller)
        first.start()
        time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            store.run_unit(lambda _u: ran.append(1), UnitHints())  # queued behind it
        assert 0.15 < time.monotonic() - started < 1.0
        assert caught.value.details["retryable"] is True
        release.set()
        first.join(5)
        assert store.run_unit(lambda _u: "next", UnitHints()) == "next"  # the writer goes on
        assert ran == []  # the abandoned unit was skipped, not run behind its caller's back
    finally:
        release.set()
        store.close()


def test_the_request_deadline_caps_each_wait() -> None:
    s = NS_PER_S  # deadlines are whole nanoseconds
    assert remaining(None) is None and remaining(3 * s) == 3 * s  # no request: own limits
    with deadline(1 * s):
        left = remaining(3 * s)
        assert left is not None and 0.9 * s < left <= 1 * s
        time.sleep(0.05)
        later = remaining(None)
        assert later is not None and later < left
    assert remaining(2 * s) == 2 * s


def test_postgresql_gets_timeouts_keepalives_and_pooler_settings() -> None:
    args = pg_connect_args(2.5, pooled=False)
    assert args["options"] == "-c statement_timeout=2000 -c lock_timeout=2000"
    assert args["tcp_user_timeout"] == 2500 and args["keepalives"] == 1
    assert args["connect_timeout"] == 2
    pooled = pg_connect_args(2.5, pooled=True)
    assert "options" not in pooled and pooled["prepare_threshold"] is None
    assert "keepalives" not in pg_connect_args(None, pooled=False)  # the CLI: no limits


def test_a_statement_past_the_limit_is_cut_and_the_engine_goes_on(postgres_url: str) -> None:
    engine = make_engine(postgres_url, wait_s=0.5)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "400ms"
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError):
                conn.execute(sa.text("SELECT pg_sleep(5)"))  # the server gives up at 0.4 s
            assert time.monotonic() - started < 1.0
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_frozen_connection_is_cut_client_side_and_dropped_from_the_pool(
    postgres_url: str,
) -> None:
    """A proxy that stops forwarding still acknowledges our packets: neither the server's
    timeout nor the kernel's fires, only the client's own wait limit."""
    from tests.pg import PG_HOST, PG_PORT
    from tests.stallproxy import StallProxy

    name = sa.make_url(postgres_url).database
    with StallProxy(PG_HOST, PG_PORT) as proxy:
        url = sa.make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
        engine = make_engine(url.render_as_string(hide_password=False), wait_s=0.5)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
                proxy.freeze()
                started = time.monotonic()
                with pytest.raises(sa.exc.OperationalError, match="did not answer within"):
                    conn.execute(sa.text("SELECT 2"))
                assert time.monotonic() - started < 1.5
                assert conn.invalidated  # SQLAlchemy counted it as a lost connection
            proxy.thaw()
            with engine.connect() as conn:  # a fresh connection serves the next call
                assert conn.execute(sa.text("SELECT current_database()")).scalar() == name
        finally:
            proxy.thaw()
            engine.dispose()
