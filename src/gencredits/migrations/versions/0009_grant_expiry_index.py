"""Live expiring grants of every wallet by expiry: the sweep announces the grants entering a
wallet's ``expiring_days`` window from this index instead of reading every wallet's grants;
and the wallets' alert rules (a partial index of those documents only), from which the sweep
reads the widest window asked for.

Revision ID: 0009_grant_expiry_index
Revises: 0008_payment_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_grant_expiry_index"
down_revision = "0008_payment_events"

_EXPIRING = "state = 'active' AND remaining > 0 AND expires_at IS NOT NULL"
_ALERT_RULES = "kind = 'alerts' AND key = ''"


def upgrade() -> None:
    where = sa.text(_EXPIRING)
    op.create_index(
        "ix_ledger_grants_expiry",
        "ledger_grants",
        ["expires_at", "id"],
        sqlite_where=where,
        postgresql_where=where,
    )
    rules = sa.text(_ALERT_RULES)
    op.create_index(
        "ix_ledger_wallet_state_alerts",
        "ledger_wallet_state",
        ["kind", "wallet_id"],
        sqlite_where=rules,
        postgresql_where=rules,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_wallet_state_alerts", table_name="ledger_wallet_state")
    op.drop_index("ix_ledger_grants_expiry", table_name="ledger_grants")
