"""The ledger's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

This is the *current* shape; the Alembic revisions in ``gencredits/migrations`` are the
history that builds it (a test checks the two agree).  Amounts are ``BIGINT`` whole
credits; instants are stored in UTC and always read back timezone-aware.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from gencredits.ledger.rollups import COUNTERS, KEYS

__all__ = [
    "LIVE_GRANT",
    "SPEND_ORDER",
    "STARTS_LATER",
    "DecimalText",
    "UTCDateTime",
    "made_on",
    "metadata",
    "seq_index",
    "sqlite_utc_text",
]


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend (SQLite keeps no zone: we add it back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; the ledger stores UTC instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, :func:`sqlite_utc_text`: the text ``process_bind_param`` followed by
        SQLAlchemy's SQLite ``DATETIME`` processor would give (a test holds the two equal),
        without their three Python frames per value.  Every write path uses it."""
        if dialect.name == "sqlite":
            return sqlite_utc_text
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What :class:`UTCDateTime` stores on SQLite for ``value``, ``YYYY-MM-DD
    HH:MM:SS.ffffff`` in UTC, in C calls only, cheaper than SQLAlchemy's processors.  A unit
    stamps its rows with one instant, so the last conversion is kept: a ledger operation's
    instants are converted about once, not once each (figures: bench/RESULTS.md)."""
    global _last_instant
    if value is None:
        return None
    last = _last_instant  # a unit stamps all its rows with one instant: convert it once
    if last[0] is value:
        return last[1]
    instant = value
    if instant.tzinfo is not UTC:
        if instant.tzinfo is None:
            raise ValueError("naive datetime refused; the ledger stores UTC instants")
        instant = instant.astimezone(UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00": the year is always four digits, so 26 characters.
    text = instant.isoformat(" ", "microseconds")[:26]
    _last_instant = (value, text)  # holds value, so its id cannot be reused while cached
    return text


_last_instant: tuple[datetime | None, str] = (None, "")


class DecimalText(sa.types.TypeDecorator[Decimal]):
    """An exact decimal stored as its text (``"0.25"``) on every backend: SQLite has no exact
    decimal type, and a share of a price must never pass through a float."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"a finite Decimal expected, not {value!r}")
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


#: A wallet's id, as every table that names one spells it (the distribution column of a
#: sharded deployment: docs/scaling.md).
WalletId = sa.String(200)

#: A 64-bit number in write order: an identity on PostgreSQL; on SQLite (a composite key
#: cannot alias the rowid) numbered by the store (:mod:`gencredits.storage.sql.numbering`).
SeqInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def seq_index(table: str) -> sa.Index:
    """SQLite only: ``seq`` alone, which the store's ``max(seq)`` reads (numbering) and the
    events feed walks; on PostgreSQL the identity numbers rows and nothing reads it."""
    index = sa.Index(f"ix_{table}_seq", "seq", info={"dialect": "sqlite"})
    return index.ddl_if(dialect="sqlite")


def wallet_key() -> sa.Column[str]:
    """``wallet_id`` in the primary key, referring to its wallet."""
    wallet = sa.ForeignKey("ledger_wallets.id")
    return sa.Column("wallet_id", WalletId, wallet, primary_key=True)


def instants(*names: str) -> list[sa.Column[datetime]]:
    """Instants every row of a table has (``created_at``, ``updated_at``...): UTC, not null."""
    return [sa.Column(name, UTCDateTime, nullable=False) for name in names]


def made_on(item: object, dialect: str) -> bool:
    """Whether this table or index of the metadata exists on ``dialect``: an index of one
    backend only says so in its ``info`` (schema comparisons skip it elsewhere)."""
    info = getattr(item, "info", None) or {}
    return bool(info.get("dialect", dialect) == dialect)


metadata = sa.MetaData()

wallets = sa.Table(
    "ledger_wallets",
    metadata,
    sa.Column("id", WalletId, primary_key=True),
    sa.Column("owner_kind", sa.String(20), nullable=False),
    sa.Column("overdraft_limit", sa.BigInteger, nullable=False),
    sa.Column("hold_ttl_s", sa.Integer, nullable=True),
    sa.Column("held", sa.BigInteger, nullable=False),
    sa.Column("debt", sa.BigInteger, nullable=False),
    *instants("created_at", "updated_at"),
    # A share of a job's quote a completion may charge beyond its hold (migration 0004).
    sa.Column("extra_charge_share", DecimalText, nullable=True),
    # Why the wallet refuses new submissions (a chargeback), until lifted (migration 0006).
    sa.Column("frozen", sa.String(300), nullable=True),
    # kind -> [live grants, their remaining credits], kept with the grants (migration 0005).
    sa.Column("grant_totals", sa.JSON, nullable=False),
    # Bumped by every unit that reports a change of the wallet, under its lock (migration 0013).
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
)

# Every table of a wallet's data has ``wallet_id`` in its primary and unique keys, the column
# that co-locates a wallet's rows on one node (docs/scaling.md; a test holds each table to it).
grants = sa.Table(
    "ledger_grants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    wallet_key(),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("remaining", sa.BigInteger, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("effective_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("source", sa.String(200), nullable=True),
    sa.Column("state", sa.String(12), nullable=False),
    *instants("created_at"),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Index("ix_ledger_grants_due", "state", "expires_at"),
)

#: A grant is live (in its wallet's active set) while it is active with credit left: the
#: partial indexes below hold live grants only, so a grant spent to zero, expired or voided
#: leaves them in the transaction that does it (migration 0005).
LIVE_GRANT = sa.and_(
    grants.c.state == sa.literal_column("'active'"), grants.c.remaining > sa.literal_column("0")
)
#: The spend order of :meth:`gencredits.ledger.model.Grant.spend_key`: priority, then
#: soonest expiry (never-expiring last, by start), then oldest, then id.
SPEND_ORDER = (
    grants.c.priority,
    grants.c.expires_at.is_(None),
    sa.func.coalesce(grants.c.expires_at, grants.c.effective_at),
    grants.c.created_at,
    grants.c.id,
)
#: Newest first: the order of a wallet's grant list.
sa.Index("ix_ledger_grants_wallet", grants.c.wallet_id, grants.c.created_at, grants.c.id)
sa.Index(
    "ix_ledger_grants_spend",
    grants.c.wallet_id,
    *SPEND_ORDER,
    sqlite_where=LIVE_GRANT,
    postgresql_where=LIVE_GRANT,
)
_EXPIRING = sa.and_(LIVE_GRANT, grants.c.expires_at.is_not(None))
sa.Index(
    "ix_ledger_grants_expiring",
    grants.c.wallet_id,
    grants.c.expires_at,
    grants.c.created_at,
    grants.c.id,
    sqlite_where=_EXPIRING,
    postgresql_where=_EXPIRING,
)
#: Live expiring grants of every wallet by expiry: the sweep finds those entering a wallet's
#: ``expiring_days`` window from it (migration 0009).
sa.Index(
    "ix_ledger_grants_expiry",
    grants.c.expires_at,
    grants.c.id,
    sqlite_where=_EXPIRING,
    postgresql_where=_EXPIRING,
)
#: Live grants that start after they were made (the only ones that can be not yet started):
#: few, and a query of the others cannot use this index by mistake.
STARTS_LATER = sa.and_(LIVE_GRANT, grants.c.effective_at > grants.c.created_at)
sa.Index(
    "ix_ledger_grants_starting",
    grants.c.wallet_id,
    grants.c.effective_at,
    sqlite_where=STARTS_LATER,
    postgresql_where=STARTS_LATER,
)

jobs = sa.Table(
    "ledger_jobs",
    metadata,
    sa.Column("seq", SeqInt, sa.Identity(), primary_key=True),
    sa.Column("id", sa.String(64), nullable=False),
    wallet_key(),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("state", sa.String(30), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("generations", sa.Integer, nullable=False),
    sa.Column("quote", sa.JSON, nullable=True),
    sa.Column("catalog", sa.String(200), nullable=True),
    sa.Column("catalog_version", sa.String(100), nullable=True),
    sa.Column("catalog_hash", sa.String(100), nullable=True),
    sa.Column("credits_quoted", sa.BigInteger, nullable=False),
    sa.Column("credits_held", sa.BigInteger, nullable=False),
    sa.Column("hold_amount", sa.BigInteger, nullable=False),
    sa.Column("credits_used", sa.BigInteger, nullable=False),
    sa.Column("written_off", sa.BigInteger, nullable=False),
    sa.Column("hold_legs", sa.JSON, nullable=False),
    sa.Column("hold_expires_at", UTCDateTime, nullable=True),
    sa.Column("submitted_by", sa.String(200), nullable=True),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    *instants("created_at", "updated_at"),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    # The key (wallet_id, seq) is a wallet's job list in order; (id, wallet_id) finds a job
    # by its id alone (migration 0016).
    sa.PrimaryKeyConstraint("wallet_id", "seq", name="ledger_jobs_pkey"),
    sa.UniqueConstraint("id", "wallet_id", name="uq_ledger_jobs_id"),
    sa.Index("ix_ledger_jobs_due", "state", "hold_expires_at"),
    seq_index("ledger_jobs"),
)

transactions = sa.Table(
    "ledger_transactions",
    metadata,
    sa.Column("seq", SeqInt, sa.Identity(), primary_key=True),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("wallet_id", WalletId, primary_key=True, nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("job_id", sa.String(64), nullable=True),
    sa.Column("grant_id", sa.String(64), nullable=True),
    sa.Column("idem_scope", sa.String(300), nullable=True),
    sa.Column("idem_key", sa.String(300), nullable=True),
    sa.Column("memo", sa.String(500), nullable=True),
    *instants("created_at"),
    sa.PrimaryKeyConstraint("wallet_id", "seq", name="ledger_transactions_pkey"),
    sa.UniqueConstraint("id", "wallet_id", name="uq_ledger_transactions_id"),
    # One effect per idempotency key: a second transaction under the same key cannot commit.
    # Not led by wallet_id: such a key misled the planner into walking a hot wallet (0016).
    sa.UniqueConstraint("idem_scope", "idem_key", "wallet_id", name="uq_ledger_transactions_idem"),
    seq_index("ledger_transactions"),
)

entries = sa.Table(
    # A transaction's entries are keyed under it: (wallet, transaction, entry), so reading a
    # wallet's or a transaction's entries walks the key (migration 0016).
    "ledger_entries",
    metadata,
    sa.Column("seq", SeqInt, sa.Identity(), primary_key=True),
    sa.Column("wallet_id", WalletId, primary_key=True, nullable=False),
    sa.Column("tx_seq", SeqInt, primary_key=True, autoincrement=False, nullable=False),
    sa.Column("account", sa.String(300), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("wallet_id", "tx_seq", "seq", name="ledger_entries_pkey"),
    sa.ForeignKeyConstraint(
        ["wallet_id", "tx_seq"],
        ["ledger_transactions.wallet_id", "ledger_transactions.seq"],
        name="fk_ledger_entries_tx",
    ),
    seq_index("ledger_entries"),
)

idempotency = sa.Table(
    "ledger_idempotency",
    metadata,
    sa.Column("scope", sa.String(300), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("wallet_id", WalletId, primary_key=True),
    # The first call: its operation and the digest of its request (a retry must match it),
    sa.Column("operation", sa.String(40), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    # and what it made (a job, a grant, a wallet...), which a retry answers with again.
    sa.Column("result_kind", sa.String(20), nullable=False),
    sa.Column("result_id", sa.String(200), nullable=False),
    sa.Column("outcome", sa.String(40), nullable=True),
    *instants("created_at"),
    # The fingerprinted request, to name what differs in a conflict (migration 0004).
    sa.Column("request", sa.JSON, nullable=True),
    # The retention sweep deletes the oldest records first (migration 0015).
    sa.Index("ix_ledger_idempotency_created", "created_at"),
)

outbox = sa.Table(
    "ledger_outbox",
    metadata,
    sa.Column("seq", SeqInt, sa.Identity(), primary_key=True),
    sa.Column("wallet_id", WalletId, primary_key=True, nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("subject_id", sa.String(200), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    *instants("created_at"),
    sa.Column("published_at", UTCDateTime, nullable=True),
    # PostgreSQL fills it with the writing transaction's id (migration 0003); NULL on SQLite.
    sa.Column("txid", sa.BigInteger, nullable=True),
    # The wallet's version the event's unit set, and the event's place in that unit (0013).
    sa.Column("wallet_version", sa.BigInteger, nullable=True),
    sa.Column("version_seq", sa.Integer, nullable=True),
    sa.PrimaryKeyConstraint("wallet_id", "seq", name="ledger_outbox_pkey"),
    # PostgreSQL's events order (txid is NULL on SQLite, whose feed walks seq alone: 0016).
    sa.Index("ix_ledger_outbox_position", "txid", "seq", info={"dialect": "postgresql"}).ddl_if(
        dialect="postgresql"
    ),
    seq_index("ledger_outbox"),
)

# --- what makes grants: subscriptions, their cycles, pack purchases (migration 0006) ---------

subscriptions = sa.Table(
    "plan_subscriptions",
    metadata,
    sa.Column("wallet_id", WalletId, sa.ForeignKey("ledger_wallets.id"), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("plan", sa.String(64), nullable=False),
    sa.Column("catalog", sa.String(64), nullable=False),
    sa.Column("catalog_version", sa.String(64), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("anchor_at", UTCDateTime, nullable=False),
    sa.Column("next_cycle", sa.Integer, nullable=False),
    sa.Column("next_at", UTCDateTime, nullable=False),
    sa.Column("pending_plan", sa.String(64), nullable=True),
    sa.Column("allowance_grants", sa.JSON, nullable=False),
    *instants("created_at", "updated_at"),
    sa.Index("ix_plan_subscriptions_id", "id"),
    sa.Index("ix_plan_subscriptions_due", "state", "next_at"),
)

cycles = sa.Table(
    "plan_cycles",
    metadata,
    # The key is the guarantee: one row, so one grant, per (subscription, cycle), whoever ticks.
    sa.Column("wallet_id", WalletId, primary_key=True),
    sa.Column("subscription_id", sa.String(64), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("plan", sa.String(64), nullable=False),
    *instants("starts_at", "ends_at"),
    sa.Column("granted", sa.BigInteger, nullable=False),
    sa.Column("rolled_over", sa.BigInteger, nullable=False),
    *instants("created_at"),
    sa.Index("ix_plan_cycles_subscription", "subscription_id", "number"),
)

purchases = sa.Table(
    "plan_purchases",
    metadata,
    sa.Column("wallet_id", WalletId, sa.ForeignKey("ledger_wallets.id"), primary_key=True),
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("pack", sa.String(64), nullable=False),
    sa.Column("catalog_version", sa.String(64), nullable=False),
    sa.Column("price", DecimalText, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("bonus_credits", sa.BigInteger, nullable=False),
    sa.Column("credit_grant_id", sa.String(64), nullable=False),
    sa.Column("bonus_grant_id", sa.String(64), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("taken_back", sa.BigInteger, nullable=False),
    sa.Column("spent", sa.BigInteger, nullable=False),
    *instants("created_at", "updated_at"),
    sa.Index("ix_plan_purchases_id", "id"),
)

# Per-wallet state documents (migration 0007): team settings, members, per-member usage per
# cycle, alert arming.  Keyed by wallet first, so a distributed database keeps a wallet's
# documents beside its ledger rows; written only under the wallet's lock.
wallet_state = sa.Table(
    "ledger_wallet_state",
    metadata,
    sa.Column("wallet_id", WalletId, primary_key=True),
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
)

#: Wallets' alert rules: the sweep reads their widest ``expiring_days`` window from them
#: without reading every wallet's documents (migration 0009).  Partial: the documents
#: written on every job (usage) stay out of it.
ALERT_RULES = sa.and_(
    wallet_state.c.kind == sa.literal_column("'alerts'"),
    wallet_state.c.key == sa.literal_column("''"),
)
sa.Index(
    "ix_ledger_wallet_state_alerts",
    wallet_state.c.kind,
    wallet_state.c.wallet_id,
    sqlite_where=ALERT_RULES,
    postgresql_where=ALERT_RULES,
)


def rule_kind(kind: str) -> sa.ColumnElement[str]:
    """``kind`` as a literal in the statement (a partial index is used for a literal, not
    for a bound parameter, on SQLite); only the names of the code's own documents."""
    assert kind.replace("_", "").isalpha(), kind
    return sa.literal_column(f"'{kind}'")


# Report rollups (migration 0010): counters per day and key, added to in the transaction that
# moves the credits.  Each table is its family in gencredits.ledger.rollups: the family's
# key columns (the primary key) then its counters, whole numbers, in that order.
_ROLLUP_KEY_TYPES = {
    "day": sa.String(10),  # the day, or the month's first day (report_usage_month)
    "anchor": WalletId,  # the wallets' routing group (report_usage_total; migration 0017)
    "wallet_id": WalletId,
    "member": sa.String(200),
    "model": sa.String(100),
    "mode": sa.String(40),
    "route": sa.String(64),
    "currency": sa.String(8),
    "flow": sa.String(16),
    "kind": sa.String(40),
}


def _rollup_table(name: str, family: str, *indexes: sa.Index) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        *(sa.Column(key, _ROLLUP_KEY_TYPES[key], primary_key=True) for key in KEYS[family]),
        *(sa.Column(counter, sa.BigInteger, nullable=False) for counter in COUNTERS[family]),
        *indexes,
    )


usage_rollups = _rollup_table(
    "report_usage", "usage", sa.Index("ix_report_usage_wallet", "wallet_id", "day")
)
usage_month_rollups = _rollup_table(
    "report_usage_month",
    "usage_month",
    sa.Index("ix_report_usage_month_wallet", "wallet_id", "day"),
)
usage_total_rollups = _rollup_table("report_usage_total", "usage_total")
flow_rollups = _rollup_table("report_flows", "flows")

# Outbound webhooks (migration 0007): endpoints, the deliverer's cursor over the outbox, and
# one delivery per (endpoint, event) with its attempts (the delivery log).
webhook_endpoints = sa.Table(
    "ledger_webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(300), nullable=False),
    sa.Column("wallet_id", WalletId, nullable=True),
    sa.Column("types", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    *instants("created_at"),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
)

webhook_cursor = sa.Table(
    "ledger_webhook_cursor",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("position", sa.String(80), nullable=True),
)

webhook_deliveries = sa.Table(
    "ledger_webhook_deliveries",
    metadata,
    sa.Column("endpoint_id", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(80), primary_key=True),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("wallet_id", WalletId, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    *instants("next_at", "created_at"),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Index("ix_ledger_webhook_deliveries_due", "status", "next_at"),
)

# --- payment provider events (migration 0008) -------------------------------------------------

payment_events = sa.Table(
    # The provider's log, keyed by its event id (an event may name no known wallet, so the
    # wallet is a column, not part of the key).  Credits move under the ledger's own
    # idempotency record (key "stripe:<event id>"); this row says what became of the event.
    "payment_events",
    metadata,
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("wallet_id", WalletId, nullable=True),
    sa.Column("provider_ref", sa.String(255), nullable=True),
    sa.Column("result_id", sa.String(200), nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    *instants("event_created_at", "received_at", "updated_at"),
    sa.Index("ix_payment_events_ref", "provider_ref", "status"),
    sa.Index("ix_payment_events_received", "received_at", "event_id"),
)

ledger_counters = sa.Table(
    # The /metrics gauges, kept by the ledger's own transactions (storage/sql/counters.py):
    # a row per gauge and routing group (its anchor: migration 0017), a wallet's changes going
    # to its group's, so that writers of different wallets rarely wait on one row and a
    # sharded database keeps it on their node; a scrape sums the groups.
    "ledger_counters",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("anchor", WalletId, primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# --- published catalog versions (migration 0011) ----------------------------------------------

catalog_versions = sa.Table(
    # Price changes: each published version of a catalog, with the instant it takes effect.
    # The active version at t is the latest effective_at <= t (ties: the highest seq).
    "catalog_versions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("catalog", sa.String(200), nullable=False),
    sa.Column("version", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("yaml", sa.Text, nullable=False),
    *instants("effective_at", "published_at"),
    sa.Column("published_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("catalog", "version", name="uq_catalog_versions_version"),
    sa.Index("ix_catalog_versions_effective", "catalog", "effective_at"),
)
