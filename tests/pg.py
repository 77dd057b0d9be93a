"""The real local PostgreSQL for tests: throw-away databases with unique names.

One place for the server's address, the CI rule (unreachable: skipped, unless ``CI=true``,
then a failure) and creating and dropping databases, for the store fixtures and the
live-service tests alike.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

PG_HOST = os.environ.get("GENCREDITS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("GENCREDITS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("GENCREDITS_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("GENCREDITS_TEST_PG_ADMIN_DB", "postgres")


def ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname=PG_ADMIN_DB,
        autocommit=True,
        connect_timeout=3,
    )


def create_pg_database(prefix: str = "gct") -> str:
    """A new, empty database with a unique name; skips the test (fails it with CI=true)
    when the server cannot be reached."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    try:
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT}: {str(exc).strip()}"
        if ci():
            pytest.fail(message + " (CI=true: a failure, not a skip)")
        pytest.skip(message)
    return name


def drop_pg_database(name: str) -> None:
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
