"""Published catalog versions: price changes that take effect at an instant.

Revision ID: 0011_catalog_versions
Revises: 0010_usage_rollups
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_catalog_versions"
down_revision = "0010_usage_rollups"

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "catalog_versions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("catalog", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("effective_at", _UTC, nullable=False),
        sa.Column("published_at", _UTC, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("catalog", "version", name="uq_catalog_versions_version"),
    )
    op.create_index(
        "ix_catalog_versions_effective", "catalog_versions", ["catalog", "effective_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_catalog_versions_effective", "catalog_versions")
    op.drop_table("catalog_versions")
