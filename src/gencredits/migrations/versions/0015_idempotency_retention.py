"""Index the idempotency records by creation time: the retention sweep deletes the oldest
first, a bounded batch per statement, without reading the whole table.

Revision ID: 0015_idempotency_retention
Revises: 0014_drop_unused_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0015_idempotency_retention"
down_revision = "0014_drop_unused_indexes"


def upgrade() -> None:
    op.create_index(
        "ix_ledger_idempotency_created", "ledger_idempotency", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_idempotency_created", table_name="ledger_idempotency")
