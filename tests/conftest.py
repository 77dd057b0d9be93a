"""Shared fixtures: an injectable clock and a real, throw-away PostgreSQL database.

``postgres_url`` creates a database with a unique name on 127.0.0.1:5432 (user postgres),
yields a ``postgresql+psycopg://`` URL and drops it afterwards, so parallel runs (xdist
workers, several people) never collide.  When the server is unreachable the test is
skipped, unless ``CI=true``: then it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from gencredits.clock import ManualClock

PG_HOST = os.environ.get("GENCREDITS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("GENCREDITS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("GENCREDITS_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("GENCREDITS_TEST_PG_ADMIN_DB", "postgres")


@pytest.fixture
def clock() -> ManualClock:
    """A clock that stands still until the test moves it (starts 2026-01-01T00:00Z)."""
    return ManualClock()


def _admin_connect() -> object:
    import psycopg

    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname=PG_ADMIN_DB,
        autocommit=True,
        connect_timeout=3,
    )


def _unreachable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT} with CI=true: {reason}")
    pytest.skip(f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT}: {reason}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped after the test."""
    import psycopg

    name = f"gct_{uuid.uuid4().hex[:16]}"
    try:
        admin = _admin_connect()
    except psycopg.OperationalError as exc:
        _unreachable(str(exc).strip())
    assert isinstance(admin, psycopg.Connection)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin = _admin_connect()
        assert isinstance(admin, psycopg.Connection)
        with admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
