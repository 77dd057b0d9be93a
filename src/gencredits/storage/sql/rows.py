"""Rows and models: the columns a model is read from, and the parameters it is written with.

A model is built from a row by position (``Wallet(*row)``): the ``*_COLUMNS`` tuples list a
table's columns in the order of the model's fields, so no column is looked up by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any, TypeVar

import sqlalchemy as sa

from gencredits.ledger.model import (
    Event,
    Grant,
    HoldLeg,
    IdempotencyRecord,
    Job,
    Transaction,
    Wallet,
)
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.quotes import JobFacts, full_quote, stored_quote

__all__ = [
    "GRANT_COLUMNS",
    "IDEM_COLUMNS",
    "JOB_COLUMNS",
    "WALLET_COLUMNS",
    "entry_rows",
    "event_row",
    "grant_of",
    "grant_row",
    "grant_update_row",
    "idempotency_record",
    "idempotency_row",
    "job_of",
    "job_row",
    "job_update_row",
    "numbered_entry_rows",
    "transaction_row",
    "wallet_of",
    "wallet_row",
    "wallet_update_row",
]


def _columns(
    table: sa.Table, model: type[Any], rename: Mapping[str, str] | None = None
) -> tuple[sa.Column[Any], ...]:
    """The table's columns in the order of the model's fields, so that a row builds the model
    by position (``Wallet(*row)``): no per-column lookups by name."""
    rename = rename or {}
    return tuple(table.c[rename.get(f.name, f.name)] for f in fields(model))


WALLET_COLUMNS = _columns(t.wallets, Wallet)
GRANT_COLUMNS = _columns(t.grants, Grant)
JOB_COLUMNS = _columns(t.jobs, Job, {"metadata": "meta"})
IDEM_COLUMNS = _columns(t.idempotency, IdempotencyRecord)
_JOB_FIELDS = [f.name for f in fields(Job)]
_HOLD_LEGS = _JOB_FIELDS.index("hold_legs")
_QUOTE = _JOB_FIELDS.index("quote")
#: the fields of a job that its quote repeats, in :class:`JobFacts`' order
_FACT_NAMES = (
    "model",
    "generations",
    "credits_quoted",
    "catalog",
    "catalog_version",
    "catalog_hash",
)
_FACTS = [_JOB_FIELDS.index(name) for name in _FACT_NAMES]
_M = TypeVar("_M")


def _named_row(model: type[_M], names: Sequence[str]) -> Callable[[_M], dict[str, Any]]:
    """A function from a model to its row's parameters, named as the model's fields (all of
    them, or ``names``): one ``attrgetter`` call per row."""
    names = tuple(names)
    get = attrgetter(*names)

    def row(value: _M) -> dict[str, Any]:
        return dict(zip(names, get(value), strict=False))

    row.__doc__ = f"The parameters of a {model.__name__} row: {', '.join(names)}."
    return row


def _all_fields(model: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(model))


wallet_row = _named_row(Wallet, _all_fields(Wallet))
grant_row = _named_row(Grant, _all_fields(Grant))
idempotency_row = _named_row(IdempotencyRecord, _all_fields(IdempotencyRecord))
transaction_row = _named_row(
    Transaction,
    (
        "id",
        "wallet_id",
        "kind",
        "job_id",
        "grant_id",
        "idem_scope",
        "idem_key",
        "memo",
        "created_at",
    ),
)


def wallet_of(r: Sequence[Any]) -> Wallet:
    """A wallet from a row of :data:`WALLET_COLUMNS` (a SQLAlchemy row or a plain tuple)."""
    return Wallet(*r)


def grant_of(r: Sequence[Any]) -> Grant:
    """A grant from a row of :data:`GRANT_COLUMNS`."""
    return Grant(*r)


def job_of(r: Sequence[Any]) -> Job:
    """A job from a row of :data:`JOB_COLUMNS` (hold legs are stored as ``[[grant, amount]]``)."""
    values = list(r)
    values[_HOLD_LEGS] = tuple(HoldLeg(g, a) for g, a in values[_HOLD_LEGS])
    if values[_QUOTE] is not None:
        model, generations, quoted, catalog, version, digest = (values[i] for i in _FACTS)
        facts = JobFacts(model, generations, quoted, (catalog, version, digest))
        values[_QUOTE] = full_quote(values[_QUOTE], facts)
    return Job(*values)


def wallet_update_row(w: Wallet) -> dict[str, Any]:
    return {
        "w_id": w.id,
        "held": w.held,
        "debt": w.debt,
        "updated_at": w.updated_at,
        "frozen": w.frozen,
        "grant_totals": w.grant_totals,
    }


def grant_update_row(g: Grant) -> dict[str, Any]:
    return {"g_id": g.id, "remaining": g.remaining, "state": g.state, "closed_at": g.closed_at}


def job_update_row(j: Job) -> dict[str, Any]:
    return {
        "j_id": j.id,
        "state": j.state,
        "credits_held": j.credits_held,
        "credits_used": j.credits_used,
        "written_off": j.written_off,
        "reason": j.reason,
        "updated_at": j.updated_at,
        "resolved_at": j.resolved_at,
    }


def entry_rows(tx: Transaction) -> list[dict[str, Any]]:
    """The rows of ``INSERT_ENTRY`` (:mod:`~gencredits.storage.sql.statements`, PostgreSQL)
    for a transaction's postings (written after it)."""
    w = tx.wallet_id
    return [
        {"wallet_id": w, "tx_id": tx.id, "account": p.account, "amount": p.amount}
        for p in tx.postings
    ]


def numbered_entry_rows(tx: Transaction, tx_seq: int, first: int) -> list[dict[str, Any]]:
    """SQLite: a transaction's entries as plain rows, numbered from ``first``, under the
    transaction numbered ``tx_seq`` (see :mod:`~gencredits.storage.sql.numbering`)."""
    w = tx.wallet_id
    return [
        {
            "seq": first + i,
            "wallet_id": w,
            "tx_seq": tx_seq,
            "account": p.account,
            "amount": p.amount,
        }
        for i, p in enumerate(tx.postings)
    ]


def idempotency_record(r: Sequence[Any]) -> IdempotencyRecord:
    """An idempotency record from a row of :data:`IDEM_COLUMNS`."""
    return IdempotencyRecord(*r)


def event_row(e: Event) -> dict[str, Any]:
    """The outbox row; ``txid`` only when the event has its ordering id (PostgreSQL), else
    the column's default (PostgreSQL: the writing transaction's id)."""
    row = {
        "wallet_id": e.wallet_id,
        "type": e.type,
        "subject_id": e.subject_id,
        "payload": dict(e.payload),
        "created_at": e.created_at,
        "published_at": None,
        "wallet_version": e.wallet_version,
        "version_seq": e.version_seq,
    }
    if e.txid is not None:
        row["txid"] = e.txid
    return row


def _facts(j: Job) -> JobFacts:
    return JobFacts(
        j.model, j.generations, j.credits_quoted, (j.catalog, j.catalog_version, j.catalog_hash)
    )


def job_row(j: Job) -> dict[str, Any]:
    return {
        "id": j.id,
        "wallet_id": j.wallet_id,
        "kind": j.kind,
        "model": j.model,
        "state": j.state,
        "params": dict(j.params),
        "generations": j.generations,
        "quote": stored_quote(j.quote, _facts(j)),
        "catalog": j.catalog,
        "catalog_version": j.catalog_version,
        "catalog_hash": j.catalog_hash,
        "credits_quoted": j.credits_quoted,
        "hold_amount": j.hold_amount,
        "credits_held": j.credits_held,
        "credits_used": j.credits_used,
        "written_off": j.written_off,
        "hold_legs": [[leg.grant_id, leg.amount] for leg in j.hold_legs],
        "hold_expires_at": j.hold_expires_at,
        "submitted_by": j.submitted_by,
        "meta": dict(j.metadata),
        "reason": j.reason,
        "created_at": j.created_at,
        "updated_at": j.updated_at,
        "resolved_at": j.resolved_at,
    }
