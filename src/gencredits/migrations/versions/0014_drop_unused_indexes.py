"""Drop the outbox's ``(published_at, seq)`` index: nothing reads it.

Every outbox reader (the events feed, the webhook deliverer, the relay) reads by position,
``(txid, seq)`` through ``ix_ledger_outbox_position``; ``published_at`` is written NULL and
never read, so its index only costs write-ahead log on every event written.  The entries'
account index and the transactions' job index stay: the wallet-scoped audit reads through
both (an owner's balance by account name, a job's transactions by job id).

Revision ID: 0014_drop_unused_indexes
Revises: 0013_wallet_event_version
"""

from __future__ import annotations

from alembic import op

revision = "0014_drop_unused_indexes"
down_revision = "0013_wallet_event_version"


def upgrade() -> None:
    op.drop_index("ix_ledger_outbox_unpublished", table_name="ledger_outbox")


def downgrade() -> None:
    op.create_index(
        "ix_ledger_outbox_unpublished", "ledger_outbox", ["published_at", "seq"], unique=False
    )
