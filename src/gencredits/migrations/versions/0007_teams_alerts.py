"""Per-wallet state documents: team settings, members and their usage per cycle, alert arming.

Revision ID: 0007
Revises: 0004_completion_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004_completion_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_wallet_state",
        sa.Column("wallet_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_wallet_state")
