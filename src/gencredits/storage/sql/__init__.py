"""The SQL adapter of the ledger's store port: SQLite and PostgreSQL (SQLAlchemy 2 Core).

Modules, from the bottom up:

* :mod:`~gencredits.storage.sql.engine`: engines with the ledger's durability settings, and
  Alembic migrations to head;
* :mod:`~gencredits.storage.sql.schema`: the tables;
* :mod:`~gencredits.storage.sql.rows`: rows to models and models to rows;
* :mod:`~gencredits.storage.sql.statements`: the store's SQL statements, built once;
* :mod:`~gencredits.storage.sql.driver`: prebuilt statements run on the driver's cursor
  (the one module that uses psycopg and SQLAlchemy's private API);
* :mod:`~gencredits.storage.sql.store`: ``SqlStore``, one transaction per unit;
* :mod:`~gencredits.storage.sql.staged` and :mod:`~gencredits.storage.sql.batch`: the
  group-commit store, many callers' units in one transaction.

The core reaches this package through :func:`gencredits.ledger.store.open_store`.
"""
