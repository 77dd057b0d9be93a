"""Engines and migrations: durability settings, migrations to head, schema == the code's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from gencredits.storage.sql import engine as db
from gencredits.storage.sql.schema import UTCDateTime, made_on, metadata, sqlite_utc_text


def test_sqlite_is_wal_with_full_sync_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/sub/dir/x.db")  # folders are created
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL, never OFF
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_default_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(db.ENV_DATABASE_URL, raising=False)
    assert db.database_url() == db.DEFAULT_DATABASE_URL
    monkeypatch.setenv(db.ENV_DATABASE_URL, "postgresql+psycopg://u@h/d")
    assert db.database_url() == "postgresql+psycopg://u@h/d"
    assert db.database_url("sqlite://") == "sqlite://"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_reach_head_and_match_the_schema_in_code(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path}/m.db"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    assert not db.is_current(url)
    assert db.current_revision(url) is None
    db.upgrade(url)
    db.upgrade(url)  # idempotent
    assert db.current_revision(url) == db.head_revision()
    assert db.is_current(url)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            include = {"include_object": lambda item, *_: made_on(item, conn.dialect.name)}
            diff = compare_metadata(MigrationContext.configure(conn, opts=include), metadata)
        ours = [d for d in diff if "ledger_" in repr(d)]
        assert ours == []
        assert "ledger_entries" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.timezones()
    )
)
def test_sqlite_instants_are_the_text_sqlalchemys_processors_give(instant: datetime) -> None:
    """UTC instants are formatted for SQLite by sqlite_utc_text, not by SQLAlchemy's two
    processors; what is stored must be exactly the text those would have given."""
    dialect = sqlite.dialect()
    datetime_text = sqlite.DATETIME().bind_processor(dialect)
    expected = datetime_text(UTCDateTime().process_bind_param(instant, dialect))
    assert UTCDateTime().dialect_impl(dialect).bind_processor(dialect) is sqlite_utc_text
    assert sqlite_utc_text(instant) == expected
    assert sqlite_utc_text(instant.astimezone(UTC)) == expected
    assert sqlite_utc_text(None) is None


def test_sqlite_instants_refuse_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive datetime refused"):
        sqlite_utc_text(datetime(2026, 1, 1))


@pytest.mark.parametrize("group_commit", [False, True])
def test_open_store_migrates_and_runs_units_and_reads(tmp_path: Path, group_commit: bool) -> None:
    from gencredits.ledger.model import Wallet
    from gencredits.ledger.store import UnitHints, open_store
    from gencredits.storage.sql.batch import GroupCommitStore
    from gencredits.storage.sql.store import SqlStore

    url = f"sqlite:///{tmp_path}/o.db"
    store = open_store(url, group_commit=group_commit)
    try:
        assert isinstance(store, GroupCommitStore if group_commit else SqlStore)
        assert (store.backend, db.is_current(url)) == ("sqlite", True)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        wallet = Wallet("w", "user", 0, None, 0, 0, now, now)
        assert store.run_unit(lambda uow: uow.insert_wallet(wallet), UnitHints("w")) is None
        with store.reader() as reader:
            assert reader.get_wallet("w") == wallet
            assert reader.list_wallets(after_id=None, limit=10) == [wallet]
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0004_upgrades_a_database_made_at_0003(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A wallet and a key recorded before 0004 read back with no share and no request: the
    wallet takes the service's share, the key still replays, and a changed request still
    conflicts (without ``differs``: the old record kept no request)."""
    from gencredits.billing import Billing
    from gencredits.billing.inputs import CreateWallet
    from gencredits.errors import IdempotencyConflict
    from gencredits.ledger.store import open_store

    url = (
        f"sqlite:///{tmp_path}/old.db"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    db.upgrade(url, "0003_outbox_txid")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO ledger_wallets (id, owner_kind, overdraft_limit, hold_ttl_s,"
                    " held, debt, created_at, updated_at)"
                    " VALUES ('w', 'user', 0, NULL, 0, 0, :now, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO ledger_idempotency (scope, key, operation, fingerprint,"
                    " result_kind, result_id, outcome, created_at)"
                    " VALUES ('wallet:w', 'k', 'create_wallet', :fp, 'wallet', 'w', 'created',"
                    " :now)"
                ),
                {"fp": CreateWallet("w").fingerprint(), "now": now},
            )
    finally:
        engine.dispose()
    db.upgrade(url)
    assert db.is_current(url)
    billing = Billing(open_store(url))
    try:
        again = billing.create_wallet("w", idempotency_key="k")
        assert (again.replayed, again.extra_charge_share) == (True, None)
        with pytest.raises(IdempotencyConflict) as err:
            billing.create_wallet("w", overdraft_limit=5, idempotency_key="k")
        assert err.value.details["result_id"] == "w" and "differs" not in err.value.details
        made = billing.create_wallet("v", extra_charge_share=1, idempotency_key="k2")
        assert billing.get_wallet("v").extra_charge_share == made.extra_charge_share == 1
    finally:
        billing.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0005_backfills_each_wallets_live_grant_totals(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A database of revision 0004 with grants gets, per wallet, its live grants' count and
    remaining by kind (spent, expired and voided grants left out), and the spend index."""
    url = (
        f"sqlite:///{tmp_path}/b.db"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    db.upgrade(url, "0004_completion_policy")
    engine = db.make_engine(url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    grant = {"effective_at": now, "expires_at": None, "source": None, "created_at": now}
    try:
        with engine.begin() as conn:
            for wallet in ("a", "b"):
                conn.execute(
                    sa.text(
                        "INSERT INTO ledger_wallets (id, owner_kind, overdraft_limit, held, debt,"
                        " created_at, updated_at) VALUES (:id, 'user', 0, 0, 0, :t, :t)"
                    ),
                    {"id": wallet, "t": now},
                )
            rows = [
                ("g1", "a", "bonus", 5, "active"),
                ("g2", "a", "bonus", 7, "active"),
                ("g3", "a", "purchase", 0, "active"),  # spent
                ("g4", "a", "purchase", 0, "expired"),
                ("g5", "a", "allowance", 9, "active"),
            ]
            grants_table = sa.table(
                "ledger_grants",
                *(sa.column(c) for c in ("id", "wallet_id", "kind", "amount", "remaining")),
                *(sa.column(c) for c in ("priority", "state", "closed_at", *grant)),
            )
            conn.execute(
                grants_table.insert(),
                [
                    {"id": i, "wallet_id": w, "kind": k, "amount": 10, "remaining": r,
                     "priority": 1, "state": s, "closed_at": None, **grant}
                    for i, w, k, r, s in rows
                ],
            )  # fmt: skip
        db.upgrade(url)
        with engine.connect() as conn:
            totals = dict(
                conn.execute(sa.select(sa.column("id"), sa.column("grant_totals")).select_from(
                    sa.table("ledger_wallets"))).all()
            )  # fmt: skip
        parsed = {k: v if isinstance(v, dict) else json.loads(v) for k, v in totals.items()}
        assert parsed == {"a": {"allowance": [1, 9], "bonus": [2, 12]}, "b": {}}
        names = (
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            if backend == "sqlite"
            else "SELECT indexname FROM pg_indexes WHERE tablename = 'ledger_grants'"
        )
        with engine.connect() as conn:
            indexes = set(conn.exec_driver_sql(names).scalars())
        wanted = {f"ix_ledger_grants_{n}" for n in ("spend", "expiring", "starting", "wallet")}
        assert wanted <= indexes
    finally:
        engine.dispose()
