"""Payment provider events (Stripe webhooks): what became of each event, by its id.

Revision ID: 0008_payment_events
Revises: 0006_plans_subscriptions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_payment_events"
down_revision = "0007_teams_alerts"

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("wallet_id", sa.String(200), nullable=True),
        sa.Column("provider_ref", sa.String(255), nullable=True),
        sa.Column("result_id", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("event_created_at", _UTC, nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
    )
    op.create_index("ix_payment_events_ref", "payment_events", ["provider_ref", "status"])
    op.create_index("ix_payment_events_received", "payment_events", ["received_at", "event_id"])


def downgrade() -> None:
    op.drop_index("ix_payment_events_received", "payment_events")
    op.drop_index("ix_payment_events_ref", "payment_events")
    op.drop_table("payment_events")
