"""Alembic environment: runs online against the connection handed in by
``gencredits.storage.sql.engine``.

``gencredits.storage.sql.engine.upgrade`` passes its open connection in
``config.attributes["connection"]``; the ``alembic`` command line (with ``sqlalchemy.url``
set) works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from gencredits.storage.sql.schema import made_on, metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=lambda item, _name, _type, _reflected, _other: made_on(
            item, connection.dialect.name
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from gencredits.storage.sql.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them online")
run_migrations_online()
