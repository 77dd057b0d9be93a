"""Every table of a wallet's data is keyed with ``wallet_id``: the column a sharded
PostgreSQL (Citus) distributes and co-locates a wallet's rows by (docs/scaling.md).

The schema in code is inspected: a table is per-wallet unless it is on the short list of
global tables below, each with how it is deployed when the tables are distributed.  A
per-wallet table must have ``wallet_id`` (not null) in its primary key, in every unique
constraint and unique index, and in every foreign key to another per-wallet table, or a
distributed database could not enforce the key on one node.
"""

from __future__ import annotations

import sqlalchemy as sa

from gencredits.api.keys import metadata as key_metadata
from gencredits.shards import ANCHORS, BUCKETS, GROUPS, anchor_of, bucket_of, group_of, shard_of
from gencredits.storage.sql.schema import metadata

#: Global tables, and why each may lack ``wallet_id`` in its keys (docs/scaling.md says
#: how each is deployed on Citus).
GLOBAL = {
    "ledger_wallets": "the wallets: distributed by id, the column all others co-locate with",
    "api_keys": "service credentials, read on every request: a reference table",
    "catalog_versions": "published price catalogs, read by every node: a reference table",
    "ledger_counters": "the /metrics gauges per routing group: distributed by anchor, "
    "co-located with the wallets of its group",
    "report_usage_total": "usage over all wallets per day and routing group: distributed by "
    "anchor, co-located with the wallets of its group",
    "ledger_webhook_endpoints": "subscriber endpoints, some for every wallet: a reference table",
    "ledger_webhook_cursor": "the deliverer's position, one row: a reference table",
    "ledger_webhook_deliveries": "the deliverer's log, written with its cursor: a local table",
    "payment_events": "the provider's log keyed by its event id (the wallet may be unknown)",
}
WALLET = "ledger_wallets"
#: The ledger-wide aggregates, keyed by their wallets' routing group (gencredits.shards).
ANCHORED = ("ledger_counters", "report_usage_total")


def key_problems(tables: list[sa.Table], global_tables: dict[str, str]) -> list[str]:
    """What keeps each table not in ``global_tables`` from being distributed by wallet."""
    found = []
    per_wallet = {t.name for t in tables if t.name not in global_tables}
    for table in tables:
        if table.name not in per_wallet:
            continue
        name, column = table.name, table.c.get("wallet_id")
        if column is None:
            found.append(f"{name}: no wallet_id column")
            continue
        if column.nullable:
            found.append(f"{name}: wallet_id may be NULL")
        if "wallet_id" not in table.primary_key.columns:
            found.append(f"{name}: wallet_id not in the primary key")
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint) and "wallet_id" not in constraint:
                found.append(f"{name}: unique {constraint.name} lacks wallet_id")
            if isinstance(constraint, sa.ForeignKeyConstraint):
                target = constraint.referred_table.name
                pairs = {(e.parent.name, e.column.name) for e in constraint.elements}
                own = ("wallet_id", "id" if target == WALLET else "wallet_id")
                if target in per_wallet | {WALLET} and own not in pairs:
                    found.append(f"{name}: foreign key to {target} not on wallet_id")
        for index in table.indexes:
            if index.unique and "wallet_id" not in index.columns:
                found.append(f"{name}: unique index {index.name} lacks wallet_id")
    return found


def _tables() -> list[sa.Table]:
    return [*metadata.sorted_tables, *key_metadata.sorted_tables]


def test_every_per_wallet_table_has_wallet_id_in_all_its_keys() -> None:
    assert key_problems(_tables(), GLOBAL) == []


def test_the_global_tables_exist_and_each_has_a_reason() -> None:
    names = {t.name for t in _tables()}
    assert set(GLOBAL) <= names
    assert all(len(reason) > 20 for reason in GLOBAL.values())
    # the list stays short: most tables hold a wallet's data
    assert len(names - set(GLOBAL)) > len(GLOBAL)


def test_a_table_without_wallet_id_in_a_key_is_named() -> None:
    """The check fails for each way a new table can get it wrong."""
    meta = sa.MetaData()
    sa.Table(WALLET, meta, sa.Column("id", sa.String(20), primary_key=True))
    parent = sa.Table(
        "parent",
        meta,
        sa.Column("wallet_id", sa.String(20), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
    )
    bad = [
        sa.Table("no_column", meta, sa.Column("id", sa.String(20), primary_key=True)),
        sa.Table(
            "not_in_key",
            meta,
            sa.Column("id", sa.String(20), primary_key=True),
            sa.Column("wallet_id", sa.String(20), sa.ForeignKey(f"{WALLET}.id")),
        ),
        sa.Table(
            "unique_alone",
            meta,
            sa.Column("wallet_id", sa.String(20), primary_key=True),
            sa.Column("seq", sa.Integer, primary_key=True),
            sa.Column("id", sa.String(20), unique=True),
        ),
        sa.Table(
            "index_alone",
            meta,
            sa.Column("wallet_id", sa.String(20), primary_key=True),
            sa.Column("id", sa.String(20), primary_key=True),
            sa.Index("ix_index_alone", "id", unique=True),
        ),
        sa.Table(
            "child",
            meta,
            sa.Column("wallet_id", sa.String(20), primary_key=True),
            sa.Column("seq", sa.Integer, sa.ForeignKey(parent.c.seq), primary_key=True),
        ),
    ]
    problems = key_problems([parent, *bad], {WALLET: "the wallets"})
    assert problems == [
        "no_column: no wallet_id column",
        "not_in_key: wallet_id may be NULL",
        "not_in_key: wallet_id not in the primary key",
        "unique_alone: unique None lacks wallet_id",
        "index_alone: unique index ix_index_alone lacks wallet_id",
        "child: foreign key to parent not on wallet_id",
    ]


def test_the_aggregates_have_the_anchor_in_their_keys() -> None:
    tables = {t.name: t for t in _tables()}
    for name in ANCHORED:
        anchor = tables[name].c.anchor
        assert not anchor.nullable, name
        assert "anchor" in tables[name].primary_key.columns, name
    assert all("distributed by anchor" in GLOBAL[name] for name in ANCHORED)


def test_each_anchor_lies_in_its_group_and_shares_its_wallets_shard() -> None:
    assert len(ANCHORS) == len(set(ANCHORS)) == GROUPS == 32
    for group, anchor in enumerate(ANCHORS):
        assert bucket_of(anchor) >> 5 == group, anchor
    for i in range(2_000):
        wallet = f"wallet-{i}"
        assert group_of(wallet) == bucket_of(wallet) * GROUPS // BUCKETS
        for count in (1, 2, 4, 8, 16, 32):  # up to 32 shards: the wallet's own shard
            assert shard_of(bucket_of(anchor_of(wallet)), count) == shard_of(
                bucket_of(wallet), count
            )
    # above 32 shards a group spans several: a wallet and its anchor may part
    assert any(
        shard_of(bucket_of(anchor_of(w)), 64) != shard_of(bucket_of(w), 64)
        for w in (f"wallet-{i}" for i in range(100))
    )
