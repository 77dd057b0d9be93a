"""Wallets may set the share of a quote a completion can charge beyond its hold, and
idempotency records keep the request they fingerprinted (to name what differs in a conflict).

Revision ID: 0004_completion_policy
Revises: 0003_outbox_txid
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_completion_policy"
down_revision = "0003_outbox_txid"


def upgrade() -> None:
    with op.batch_alter_table("ledger_wallets") as batch:
        batch.add_column(sa.Column("extra_charge_share", sa.String(40), nullable=True))
    with op.batch_alter_table("ledger_idempotency") as batch:
        batch.add_column(sa.Column("request", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_idempotency") as batch:
        batch.drop_column("request")
    with op.batch_alter_table("ledger_wallets") as batch:
        batch.drop_column("extra_charge_share")
