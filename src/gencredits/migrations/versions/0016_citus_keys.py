"""Every table of a wallet's data keyed by ``wallet_id`` first or with it: the distribution
column a sharded PostgreSQL (Citus) co-locates a wallet's rows by (docs/scaling.md).

* ``ledger_entries`` and ``ledger_idempotency`` gain ``wallet_id``, filled from their
  transaction and from the scope (``wallet:<id>``, or the job, grant, subscription or
  purchase it names).
* Keys: jobs, transactions and outbox ``(wallet_id, seq)``; entries ``(wallet_id, tx_seq,
  seq)`` under their transaction's ``(wallet_id, seq)``; idempotency ``(scope, key,
  wallet_id)``; grants ``(id, wallet_id)``; a job's and a transaction's id unique with its
  wallet (led by the id, which still finds it alone); one transaction per ``(scope, key,
  wallet_id)`` (keys led by ``wallet_id`` beside the primary key mislead the planner on a
  hot wallet whose rows outgrew its statistics: it walked all of them).
* ``seq`` is an identity column on PostgreSQL; on SQLite, where a composite key cannot
  alias the rowid, the store numbers it, and an index on ``seq`` alone serves its
  ``max(seq)`` and the events feed.
* Dropped: the wallet indexes the new keys replace, and the entries' account and
  transactions' job indexes (their only readers, the scoped audit's, now read by wallet);
  on SQLite the outbox's ``(txid, seq)`` index (txid is NULL there; the feed walks ``seq``).

Revision ID: 0016_citus_keys
Revises: 0015_idempotency_retention
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0016_citus_keys"
down_revision = "0015_idempotency_retention"
branch_labels = None
depends_on = None

#: The tables numbered by ``seq``.
_NUMBERED = ("ledger_jobs", "ledger_transactions", "ledger_entries", "ledger_outbox")
#: Names for the constraints 0001 left unnamed (SQLite keeps no name for them).
_NAMES = {
    "pk": "%(table_name)s_pkey",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
}
#: A scope's prefix -> the table whose row it names (its ``id`` follows the prefix).
_SCOPE_OWNERS = {
    "job:": "ledger_jobs",
    "grant:": "ledger_grants",
    "subscription:": "plan_subscriptions",
    "purchase:": "plan_purchases",
}


def _fill_wallet_ids() -> None:
    op.execute(
        "UPDATE ledger_entries SET wallet_id = (SELECT tx.wallet_id FROM ledger_transactions tx"
        " WHERE tx.seq = ledger_entries.tx_seq)"
    )
    cases = [f"WHEN scope LIKE 'wallet:%' THEN substr(scope, {len('wallet:') + 1})"]
    for prefix, table in _SCOPE_OWNERS.items():
        owner = (
            f"(SELECT min(o.wallet_id) FROM {table} o"
            f" WHERE o.id = substr(ledger_idempotency.scope, {len(prefix) + 1}))"
        )
        cases.append(f"WHEN scope LIKE '{prefix}%' THEN {owner}")
    op.execute(f"UPDATE ledger_idempotency SET wallet_id = CASE {' '.join(cases)} END")
    # A record whose thing is gone (none are ever deleted): its result, if a wallet, else ''.
    op.execute(
        "UPDATE ledger_idempotency SET wallet_id = CASE WHEN result_kind = 'wallet'"
        " THEN result_id ELSE '' END WHERE wallet_id IS NULL"
    )


def upgrade() -> None:
    for table in ("ledger_entries", "ledger_idempotency"):
        op.add_column(table, sa.Column("wallet_id", sa.String(200), nullable=True))
    _fill_wallet_ids()
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgresql_upgrade()


def _sqlite_upgrade() -> None:
    # Rebuilt parents first; migrations run with foreign keys off and checked at the end.
    with op.batch_alter_table("ledger_transactions", naming_convention=_NAMES) as b:
        b.drop_constraint("uq_ledger_transactions_id", type_="unique")
        b.drop_constraint("uq_ledger_transactions_idem", type_="unique")
        b.drop_index("ix_ledger_transactions_wallet")
        b.drop_index("ix_ledger_transactions_job")
        b.drop_constraint("ledger_transactions_pkey", type_="primary")
        b.create_primary_key("ledger_transactions_pkey", ["wallet_id", "seq"])
        b.create_unique_constraint("uq_ledger_transactions_id", ["id", "wallet_id"])
        b.create_unique_constraint(
            "uq_ledger_transactions_idem", ["idem_scope", "idem_key", "wallet_id"]
        )
    with op.batch_alter_table("ledger_entries", naming_convention=_NAMES) as b:
        b.alter_column("wallet_id", existing_type=sa.String(200), nullable=False)
        b.drop_constraint("fk_ledger_entries_tx_seq", type_="foreignkey")
        b.drop_index("ix_ledger_entries_tx")
        b.drop_index("ix_ledger_entries_account")
        b.drop_constraint("ledger_entries_pkey", type_="primary")
        b.create_primary_key("ledger_entries_pkey", ["wallet_id", "tx_seq", "seq"])
        b.create_foreign_key(
            "fk_ledger_entries_tx",
            "ledger_transactions",
            ["wallet_id", "tx_seq"],
            ["wallet_id", "seq"],
        )
    with op.batch_alter_table("ledger_jobs", naming_convention=_NAMES) as b:
        b.drop_constraint("uq_ledger_jobs_id", type_="unique")
        b.drop_index("ix_ledger_jobs_wallet")
        b.drop_constraint("ledger_jobs_pkey", type_="primary")
        b.create_primary_key("ledger_jobs_pkey", ["wallet_id", "seq"])
        b.create_unique_constraint("uq_ledger_jobs_id", ["id", "wallet_id"])
    with op.batch_alter_table("ledger_outbox", naming_convention=_NAMES) as b:
        b.drop_index("ix_ledger_outbox_position")  # txid is NULL on SQLite: seq alone
        b.drop_constraint("ledger_outbox_pkey", type_="primary")
        b.create_primary_key("ledger_outbox_pkey", ["wallet_id", "seq"])
    with op.batch_alter_table("ledger_idempotency", naming_convention=_NAMES) as b:
        b.alter_column("wallet_id", existing_type=sa.String(200), nullable=False)
        b.drop_constraint("ledger_idempotency_pkey", type_="primary")
        b.create_primary_key("ledger_idempotency_pkey", ["scope", "key", "wallet_id"])
    with warnings.catch_warnings():  # the index it cannot reflect is made again just below
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("ledger_grants", naming_convention=_NAMES) as b:
            b.drop_constraint("ledger_grants_pkey", type_="primary")
            b.create_primary_key("ledger_grants_pkey", ["id", "wallet_id"])
    _spend_index()
    for table in _NUMBERED:
        op.create_index(f"ix_{table}_seq", table, ["seq"], unique=False)


def _spend_index() -> None:
    """SQLite: the grants' spend index (0005) again after their table is rebuilt (it cannot
    be reflected, so the rebuild leaves it out)."""
    order = "wallet_id|priority|(expires_at IS NULL)|coalesce(expires_at, effective_at)"
    order += "|created_at|id"
    columns = [c if c.isidentifier() else sa.text(c) for c in order.split("|")]
    live = sa.text("state = 'active' AND remaining > 0")
    op.create_index("ix_ledger_grants_spend", "ledger_grants", columns, sqlite_where=live)


def _postgresql_upgrade() -> None:
    for table in ("ledger_entries", "ledger_idempotency"):
        op.alter_column(table, "wallet_id", existing_type=sa.String(200), nullable=False)
    op.drop_constraint("ledger_entries_tx_seq_fkey", "ledger_entries", type_="foreignkey")
    for index in (
        "ix_ledger_entries_tx",
        "ix_ledger_entries_account",
        "ix_ledger_transactions_wallet",
        "ix_ledger_transactions_job",
        "ix_ledger_jobs_wallet",
    ):
        op.execute(f"DROP INDEX {index}")
    op.drop_constraint("ledger_transactions_id_key", "ledger_transactions", type_="unique")
    op.drop_constraint("uq_ledger_transactions_idem", "ledger_transactions", type_="unique")
    op.drop_constraint("ledger_jobs_id_key", "ledger_jobs", type_="unique")
    keys = {
        "ledger_transactions": ["wallet_id", "seq"],
        "ledger_entries": ["wallet_id", "tx_seq", "seq"],
        "ledger_jobs": ["wallet_id", "seq"],
        "ledger_outbox": ["wallet_id", "seq"],
        "ledger_idempotency": ["scope", "key", "wallet_id"],
        "ledger_grants": ["id", "wallet_id"],
    }
    for table, columns in keys.items():
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, columns)
    op.create_unique_constraint(
        "uq_ledger_transactions_id", "ledger_transactions", ["id", "wallet_id"]
    )
    op.create_unique_constraint(
        "uq_ledger_transactions_idem",
        "ledger_transactions",
        ["idem_scope", "idem_key", "wallet_id"],
    )
    op.create_unique_constraint("uq_ledger_jobs_id", "ledger_jobs", ["id", "wallet_id"])
    op.create_foreign_key(
        "fk_ledger_entries_tx",
        "ledger_entries",
        "ledger_transactions",
        ["wallet_id", "tx_seq"],
        ["wallet_id", "seq"],
    )
    for table in _NUMBERED:  # serial -> identity, going on from the same number
        op.execute(f"ALTER TABLE {table} ALTER COLUMN seq DROP DEFAULT")
        op.execute(f"DROP SEQUENCE {table}_seq_seq")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY")
        _restart(table)


def _restart(table: str) -> None:
    """The column's sequence to go on after the table's largest ``seq``."""
    op.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'),"
        f" coalesce(max(seq), 0) + 1, false) FROM {table}"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
    else:
        _postgresql_downgrade()
    for table in ("ledger_idempotency", "ledger_entries"):
        with op.batch_alter_table(table) as b:
            b.drop_column("wallet_id")


def _sqlite_downgrade() -> None:
    for table in _NUMBERED:
        op.drop_index(f"ix_{table}_seq", table_name=table)
    with op.batch_alter_table("ledger_grants", naming_convention=_NAMES) as b:
        b.drop_constraint("ledger_grants_pkey", type_="primary")
        b.create_primary_key("ledger_grants_pkey", ["id"])
    _spend_index()
    with op.batch_alter_table("ledger_idempotency", naming_convention=_NAMES) as b:
        b.drop_constraint("ledger_idempotency_pkey", type_="primary")
        b.create_primary_key("ledger_idempotency_pkey", ["scope", "key"])
    with op.batch_alter_table("ledger_outbox", naming_convention=_NAMES) as b:
        b.drop_constraint("ledger_outbox_pkey", type_="primary")
        b.create_primary_key("ledger_outbox_pkey", ["seq"])
        b.create_index("ix_ledger_outbox_position", ["txid", "seq"])
    with op.batch_alter_table("ledger_jobs", naming_convention=_NAMES) as b:
        b.drop_constraint("uq_ledger_jobs_id", type_="unique")
        b.drop_constraint("ledger_jobs_pkey", type_="primary")
        b.create_primary_key("ledger_jobs_pkey", ["seq"])
        b.create_unique_constraint("uq_ledger_jobs_id", ["id"])
        b.create_index("ix_ledger_jobs_wallet", ["wallet_id", "seq"])
    with op.batch_alter_table("ledger_entries", naming_convention=_NAMES) as b:
        b.drop_constraint("fk_ledger_entries_tx", type_="foreignkey")
        b.drop_constraint("ledger_entries_pkey", type_="primary")
        b.create_primary_key("ledger_entries_pkey", ["seq"])
        b.create_foreign_key("fk_ledger_entries_tx_seq", "ledger_transactions", ["tx_seq"], ["seq"])
        b.create_index("ix_ledger_entries_account", ["account"])
        b.create_index("ix_ledger_entries_tx", ["tx_seq"])
    with op.batch_alter_table("ledger_transactions", naming_convention=_NAMES) as b:
        b.drop_constraint("uq_ledger_transactions_id", type_="unique")
        b.drop_constraint("uq_ledger_transactions_idem", type_="unique")
        b.drop_constraint("ledger_transactions_pkey", type_="primary")
        b.create_primary_key("ledger_transactions_pkey", ["seq"])
        b.create_unique_constraint("uq_ledger_transactions_id", ["id"])
        b.create_unique_constraint("uq_ledger_transactions_idem", ["idem_scope", "idem_key"])
        b.create_index("ix_ledger_transactions_job", ["job_id"])
        b.create_index("ix_ledger_transactions_wallet", ["wallet_id", "seq"])


def _postgresql_downgrade() -> None:
    for table in _NUMBERED:  # identity -> serial, going on from the same number
        op.execute(f"ALTER TABLE {table} ALTER COLUMN seq DROP IDENTITY")
        op.execute(f"CREATE SEQUENCE {table}_seq_seq OWNED BY {table}.seq")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN seq SET DEFAULT nextval('{table}_seq_seq')")
        _restart(table)
    op.drop_constraint("fk_ledger_entries_tx", "ledger_entries", type_="foreignkey")
    op.drop_constraint("uq_ledger_jobs_id", "ledger_jobs", type_="unique")
    op.drop_constraint("uq_ledger_transactions_idem", "ledger_transactions", type_="unique")
    op.drop_constraint("uq_ledger_transactions_id", "ledger_transactions", type_="unique")
    keys = {
        "ledger_transactions": ["seq"],
        "ledger_entries": ["seq"],
        "ledger_jobs": ["seq"],
        "ledger_outbox": ["seq"],
        "ledger_idempotency": ["scope", "key"],
        "ledger_grants": ["id"],
    }
    for table, columns in keys.items():
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, columns)
    op.create_unique_constraint("ledger_jobs_id_key", "ledger_jobs", ["id"])
    op.create_unique_constraint("ledger_transactions_id_key", "ledger_transactions", ["id"])
    op.create_unique_constraint(
        "uq_ledger_transactions_idem", "ledger_transactions", ["idem_scope", "idem_key"]
    )
    op.create_foreign_key(
        "ledger_entries_tx_seq_fkey", "ledger_entries", "ledger_transactions", ["tx_seq"], ["seq"]
    )
    op.create_index("ix_ledger_jobs_wallet", "ledger_jobs", ["wallet_id", "seq"])
    op.create_index("ix_ledger_transactions_wallet", "ledger_transactions", ["wallet_id", "seq"])
    op.create_index("ix_ledger_transactions_job", "ledger_transactions", ["job_id"])
    op.create_index("ix_ledger_entries_tx", "ledger_entries", ["tx_seq"])
    op.create_index("ix_ledger_entries_account", "ledger_entries", ["account"])
