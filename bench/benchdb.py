"""An empty database for one benchmark run: the start-up the scripts of bench/ share.

SQLite: a new file under the run's folder.  PostgreSQL: a new database on the local
server (127.0.0.1, user ``postgres``, trust auth), dropped when the run ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"


@contextmanager
def fresh_database(backend: str, work: Path, name: str) -> Iterator[str]:
    """The URL of an empty database; ``backend`` is ``sqlite`` or ``postgres(ql)``."""
    if backend == "sqlite":
        yield f"sqlite:///{work / f'{name}.db'}"
        return
    import psycopg

    db = f"gcbench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=HOST, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"postgresql+psycopg://postgres@{HOST}:5432/{db}"
    finally:
        with psycopg.connect(host=HOST, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
