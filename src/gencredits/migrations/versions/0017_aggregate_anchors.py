"""The ledger-wide aggregates keyed by their wallets' routing group: ``anchor``, the
distribution value a sharded PostgreSQL (Citus) co-locates them by with the wallets whose
transactions write them (docs/scaling.md, "The global aggregates").

* ``ledger_counters``: each (gauge, bucket) row gains its bucket's anchor; key ``(name,
  bucket, anchor)``.  The values stay where they are (a scrape sums a gauge's rows); from
  now on a wallet's changes go to its routing group's row, not to its crc32 bucket's.
* ``report_usage_total``: the existing rows are given the first group's anchor (reads sum
  over the groups, so every total stays the same); key ``(day, anchor, model, mode, route,
  currency)``.

Downgrade: the anchors dropped, the usage rows of one key summed back into one.

Revision ID: 0017_aggregate_anchors
Revises: 0016_citus_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_aggregate_anchors"
down_revision = "0016_citus_keys"
branch_labels = None
depends_on = None

#: Each routing group's anchor (gencredits.shards.ANCHORS, written out: this revision must
#: fill the same values forever).
ANCHORS = (
    *("g5", "g26", "g20", "g124", "g42", "g24", "g46", "g19"),
    *("g77", "g0", "g10", "g16", "g80", "g33", "g58", "g13"),
    *("g18", "g84", "g11", "g2", "g41", "g56", "g6", "g86"),
    *("g44", "g25", "g74", "g59", "g7", "g49", "g1", "g4"),
)
USAGE_KEY = ("day", "model", "mode", "route", "currency")
USAGE_COUNTERS = (
    *("jobs", "succeeded", "failed", "cancelled", "timed_out", "late_succeeded"),
    *("held", "captured", "refunded", "written_off", "cost_micros", "uncosted"),
)
#: The primary keys, without and with the anchor.
KEYS = {
    "ledger_counters": (["name", "bucket"], ["name", "bucket", "anchor"]),
    "report_usage_total": (list(USAGE_KEY), ["day", "anchor", *USAGE_KEY[1:]]),
}
_NAMES = {"pk": "%(table_name)s_pkey"}


def _rekey(table: str, columns: list[str], *, drop_anchor: bool = False) -> None:
    """``table``'s primary key on ``columns`` (the anchor made NOT NULL, or dropped)."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(table, naming_convention=_NAMES) as b:
            b.drop_constraint(f"{table}_pkey", type_="primary")
            if drop_anchor:
                b.drop_column("anchor")
            else:
                b.alter_column("anchor", existing_type=sa.String(200), nullable=False)
            b.create_primary_key(f"{table}_pkey", columns)
        return
    op.drop_constraint(f"{table}_pkey", table, type_="primary")
    if drop_anchor:
        op.drop_column(table, "anchor")
    else:
        op.alter_column(table, "anchor", existing_type=sa.String(200), nullable=False)
    op.create_primary_key(f"{table}_pkey", table, columns)


def upgrade() -> None:
    for table in KEYS:
        op.add_column(table, sa.Column("anchor", sa.String(200), nullable=True))
    cases = " ".join(f"WHEN {bucket} THEN '{anchor}'" for bucket, anchor in enumerate(ANCHORS))
    op.execute(f"UPDATE ledger_counters SET anchor = CASE bucket {cases} END")
    op.execute(f"UPDATE report_usage_total SET anchor = '{ANCHORS[0]}'")
    for table, (_old, new) in KEYS.items():
        _rekey(table, new)


def downgrade() -> None:
    _rekey("ledger_counters", KEYS["ledger_counters"][0], drop_anchor=True)
    # one row per key again: the groups' rows summed aside, then put back without anchors
    key, counters = ", ".join(USAGE_KEY), ", ".join(USAGE_COUNTERS)
    sums = ", ".join(f"SUM({name}) AS {name}" for name in USAGE_COUNTERS)
    op.execute(
        f"CREATE TABLE report_usage_total_0017 AS SELECT {key}, {sums}"
        f" FROM report_usage_total GROUP BY {key}"
    )
    op.execute("DELETE FROM report_usage_total")
    _rekey("report_usage_total", KEYS["report_usage_total"][0], drop_anchor=True)
    op.execute(
        f"INSERT INTO report_usage_total ({key}, {counters})"
        f" SELECT {key}, {counters} FROM report_usage_total_0017"
    )
    op.drop_table("report_usage_total_0017")
