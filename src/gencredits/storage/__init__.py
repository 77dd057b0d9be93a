"""Storage adapters of the ledger's store port (:mod:`gencredits.ledger.store`).

The core (``gencredits.ledger``, ``gencredits.billing``) names no database driver; what
talks to a database lives here.  :mod:`gencredits.storage.sql` is the SQL adapter
(SQLAlchemy 2 Core on SQLite and PostgreSQL), reached from the core only through
:func:`gencredits.ledger.store.open_store`.
"""
