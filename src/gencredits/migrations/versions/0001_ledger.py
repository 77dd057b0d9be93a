"""ledger: wallets, grants, jobs, transactions, entries, idempotency, outbox

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_ledger"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: An auto-numbered 64-bit key; on SQLite it must be spelled INTEGER to alias the rowid.
_SEQ_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _seq() -> sa.Column[int]:
    return sa.Column("seq", _SEQ_TYPE, autoincrement=True, nullable=False)


def upgrade() -> None:
    op.create_table(
        "ledger_idempotency",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result_kind", sa.String(length=20), nullable=False),
        sa.Column("result_id", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_table(
        "ledger_outbox",
        _seq(),
        sa.Column("wallet_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(
        "ix_ledger_outbox_unpublished", "ledger_outbox", ["published_at", "seq"], unique=False
    )

    op.create_table(
        "ledger_transactions",
        _seq(),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("wallet_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("grant_id", sa.String(length=64), nullable=True),
        sa.Column("idem_scope", sa.String(length=300), nullable=True),
        sa.Column("idem_key", sa.String(length=300), nullable=True),
        sa.Column("memo", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("idem_scope", "idem_key", name="uq_ledger_transactions_idem"),
    )
    op.create_index("ix_ledger_transactions_job", "ledger_transactions", ["job_id"], unique=False)
    op.create_index(
        "ix_ledger_transactions_wallet", "ledger_transactions", ["wallet_id", "seq"], unique=False
    )

    op.create_table(
        "ledger_wallets",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("owner_kind", sa.String(length=20), nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger(), nullable=False),
        sa.Column("hold_ttl_s", sa.Integer(), nullable=True),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "ledger_entries",
        _seq(),
        sa.Column("tx_seq", _SEQ_TYPE, nullable=False),
        sa.Column("account", sa.String(length=300), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tx_seq"],
            ["ledger_transactions.seq"],
        ),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_ledger_entries_account", "ledger_entries", ["account"], unique=False)
    op.create_index("ix_ledger_entries_tx", "ledger_entries", ["tx_seq"], unique=False)

    op.create_table(
        "ledger_grants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("wallet_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["wallet_id"],
            ["ledger_wallets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_grants_due", "ledger_grants", ["state", "expires_at"], unique=False)
    op.create_index("ix_ledger_grants_wallet", "ledger_grants", ["wallet_id"], unique=False)

    op.create_table(
        "ledger_jobs",
        _seq(),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("wallet_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("generations", sa.Integer(), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=True),
        sa.Column("catalog", sa.String(length=200), nullable=True),
        sa.Column("catalog_version", sa.String(length=100), nullable=True),
        sa.Column("catalog_hash", sa.String(length=100), nullable=True),
        sa.Column("credits_quoted", sa.BigInteger(), nullable=False),
        sa.Column("credits_held", sa.BigInteger(), nullable=False),
        sa.Column("hold_amount", sa.BigInteger(), nullable=False),
        sa.Column("credits_used", sa.BigInteger(), nullable=False),
        sa.Column("written_off", sa.BigInteger(), nullable=False),
        sa.Column("hold_legs", sa.JSON(), nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["wallet_id"],
            ["ledger_wallets.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    op.create_index("ix_ledger_jobs_due", "ledger_jobs", ["state", "hold_expires_at"], unique=False)
    op.create_index("ix_ledger_jobs_wallet", "ledger_jobs", ["wallet_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ledger_jobs_wallet", table_name="ledger_jobs")
    op.drop_index("ix_ledger_jobs_due", table_name="ledger_jobs")

    op.drop_table("ledger_jobs")
    op.drop_index("ix_ledger_grants_wallet", table_name="ledger_grants")
    op.drop_index("ix_ledger_grants_due", table_name="ledger_grants")

    op.drop_table("ledger_grants")
    op.drop_index("ix_ledger_entries_tx", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account", table_name="ledger_entries")

    op.drop_table("ledger_entries")
    op.drop_table("ledger_wallets")
    op.drop_index("ix_ledger_transactions_wallet", table_name="ledger_transactions")
    op.drop_index("ix_ledger_transactions_job", table_name="ledger_transactions")

    op.drop_table("ledger_transactions")
    op.drop_index("ix_ledger_outbox_unpublished", table_name="ledger_outbox")

    op.drop_table("ledger_outbox")
    op.drop_table("ledger_idempotency")
