"""A wallet's cost does not grow with its grants: the spend order, the soonest expiries and
the grants not yet started are served by partial indexes over live grants (active, with
credit left; for the last, only those that start after they were made), a wallet's grants
are listed newest first from an index, and each wallet keeps its live grants' count and
remaining credits by kind (``grant_totals``), backfilled here.

Revision ID: 0005
Revises: 0004_completion_policy
"""

from __future__ import annotations

import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0005_grant_spend_index"
down_revision = "0004_completion_policy"

_LIVE = "state = 'active' AND remaining > 0"


def upgrade() -> None:
    # A plain ADD COLUMN (both backends): a batch would copy the table on SQLite, which the
    # grants' foreign keys to it forbid.
    op.add_column(
        "ledger_wallets",
        sa.Column("grant_totals", sa.JSON, nullable=False, server_default=sa.text("'{}'")),
    )
    conn = op.get_bind()
    totals: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for wallet_id, kind, count, remaining in conn.execute(
        sa.text(
            "SELECT wallet_id, kind, count(*), sum(remaining) FROM ledger_grants"
            f" WHERE {_LIVE} GROUP BY wallet_id, kind"
        )
    ):
        totals[wallet_id][kind] = [int(count), int(remaining)]
    for wallet_id, by_kind in totals.items():
        conn.execute(
            sa.text("UPDATE ledger_wallets SET grant_totals = :t WHERE id = :id"),
            {"t": json.dumps(dict(sorted(by_kind.items()))), "id": wallet_id},
        )
    op.drop_index("ix_ledger_grants_wallet", table_name="ledger_grants")
    op.create_index("ix_ledger_grants_wallet", "ledger_grants", ["wallet_id", "created_at", "id"])
    live = sa.text(_LIVE)
    op.create_index(
        "ix_ledger_grants_spend",
        "ledger_grants",
        [
            "wallet_id",
            "priority",
            sa.text("(expires_at IS NULL)"),
            sa.text("coalesce(expires_at, effective_at)"),
            "created_at",
            "id",
        ],
        sqlite_where=live,
        postgresql_where=live,
    )
    expiring = sa.text(f"{_LIVE} AND expires_at IS NOT NULL")
    op.create_index(
        "ix_ledger_grants_expiring",
        "ledger_grants",
        ["wallet_id", "expires_at", "created_at", "id"],
        sqlite_where=expiring,
        postgresql_where=expiring,
    )
    starts_later = sa.text(f"{_LIVE} AND effective_at > created_at")
    op.create_index(
        "ix_ledger_grants_starting",
        "ledger_grants",
        ["wallet_id", "effective_at"],
        sqlite_where=starts_later,
        postgresql_where=starts_later,
    )


def downgrade() -> None:
    for name in ("starting", "expiring", "spend"):
        op.drop_index(f"ix_ledger_grants_{name}", table_name="ledger_grants")
    op.drop_index("ix_ledger_grants_wallet", table_name="ledger_grants")
    op.create_index("ix_ledger_grants_wallet", "ledger_grants", ["wallet_id"])
    with op.batch_alter_table("ledger_wallets") as batch:
        batch.drop_column("grant_totals")
