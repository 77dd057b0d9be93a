"""Outbox events remember the transaction that wrote them (PostgreSQL), so they can be handed
out in an order that a later commit never jumps (see SqlUnit.events).

Revision ID: 0003_outbox_txid
Revises: 0002_api_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_outbox_txid"
down_revision = "0002_api_keys"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    default = sa.text("(pg_current_xact_id()::text)::bigint") if postgres else None
    with op.batch_alter_table("ledger_outbox") as batch:
        batch.add_column(sa.Column("txid", sa.BigInteger, nullable=True, server_default=default))
        batch.create_index("ix_ledger_outbox_position", ["txid", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("ledger_outbox") as batch:
        batch.drop_index("ix_ledger_outbox_position")
        batch.drop_column("txid")
