"""A wallet's version, and the version each outbox event reports: exact per-wallet order.

Every unit of work that reports a change of a wallet (emits an event for it) bumps the
wallet's ``version`` under the wallet's lock, in its transaction, and stamps its events with
that version and their place in the unit (``version_seq``), so that a consumer can order and
deduplicate each wallet's events whatever order they reach it in.  Events written before
this revision carry no version (NULL); wallets start at 0.

Revision ID: 0013_wallet_event_version
Revises: 0012_ledger_counters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_wallet_event_version"
down_revision = "0012_ledger_counters"


def upgrade() -> None:
    with op.batch_alter_table("ledger_wallets") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("ledger_outbox") as batch:
        batch.add_column(sa.Column("wallet_version", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("version_seq", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_outbox") as batch:
        batch.drop_column("version_seq")
        batch.drop_column("wallet_version")
    with op.batch_alter_table("ledger_wallets") as batch:
        batch.drop_column("version")
