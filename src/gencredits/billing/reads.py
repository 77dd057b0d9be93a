"""Reads: wallet views, lists, history pages and the outbox, each from one reader (one
read-only transaction), with opaque cursors that page on a stable order."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime
from itertools import islice

from gencredits import limits
from gencredits.errors import GrantNotFound, InvalidRequest, JobNotFound
from gencredits.ledger.model import JOB_STATUS, Event, Grant, Job, JobState, Wallet
from gencredits.ledger.store import GrantQuery, LedgerReader, WriteUnit

from .inputs import check_int
from .runner import need_wallet
from .views import (
    EntryView,
    GrantExpiry,
    GrantKindTotal,
    GrantView,
    JobView,
    ListOrder,
    Page,
    WalletView,
)

__all__ = [
    "ORDERS",
    "check_order",
    "cursor_kind",
    "decode_cursor",
    "encode_cursor",
    "event_position",
    "find_grant",
    "find_job",
    "grant_page",
    "history_page",
    "job_page",
    "job_states",
    "view_of",
    "wallet_page",
    "wallet_view",
]


#: How a list may be ordered: ``asc`` (oldest first; wallets by id, a to z) or ``desc``.
ORDERS = ("asc", "desc")
#: The order each list had before it took ``order``: its cursors keep their old kind.
_FIRST_ORDER = {"w": "asc", "j": "asc", "h": "desc"}


def check_order(order: object) -> ListOrder:
    if order == "asc" or order == "desc":
        return order
    raise InvalidRequest.for_field("order", order, "asc or desc")


def cursor_kind(kind: str, order: str) -> str:
    """A cursor says which list and which order it pages, so it cannot resume another."""
    return kind if order == _FIRST_ORDER[kind] else f"{kind}-{order}"


def encode_cursor(kind: str, value: str | int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise InvalidRequest.for_field(
            "cursor",
            cursor,
            "a next_cursor from a previous page of the same list, in the same order",
        )
    return value


def int_cursor(kind: str, cursor: str | None) -> int | None:
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidRequest.for_field(
            "cursor",
            cursor,
            "a next_cursor from a previous page of the same list, in the same order",
        )
    return int(value)


def event_position(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    txid, sep, seq = cursor.partition("-")
    if not (sep and txid.isdigit() and seq.isdigit()) or len(cursor) > 60:
        raise InvalidRequest.for_field("after", cursor, "an event's cursor, e.g. '0-42'")
    return int(txid), int(seq)


def view_of(reader: LedgerReader | WriteUnit, wallet: Wallet, now: datetime) -> WalletView:
    """The wallet's view from its materialised figures and a few index reads, whatever the
    number of its grants: ``available`` is its live grants' remaining (kept on the wallet
    row) less those not spendable at ``now`` (not yet started, or expired but not yet
    swept: few) and its debt."""
    unspendable = sum(g.remaining for g in reader.unspendable_grants(wallet.id, now))
    available = wallet.remaining - unspendable - wallet.debt
    upcoming = islice(reader.spend_order(wallet.id, now), limits.WALLET_GRANTS_INLINE)
    expiring = reader.expiring_grants(wallet.id, limit=limits.WALLET_EXPIRIES)
    return WalletView(
        id=wallet.id,
        owner_kind=wallet.owner_kind,
        available=available,
        held=wallet.held,
        balance=available + wallet.held,
        debt=wallet.debt,
        overdraft_limit=wallet.overdraft_limit,
        hold_ttl_s=wallet.hold_ttl_s,
        extra_charge_share=wallet.extra_charge_share,
        frozen=wallet.frozen,
        grant_totals=tuple(
            GrantKindTotal(kind=kind, grants=total[0], remaining=total[1])
            for kind, total in sorted(wallet.grant_totals.items())
        ),
        next_expiries=tuple(
            GrantExpiry(grant_id=g.id, kind=g.kind, remaining=g.remaining, expires_at=expiry)
            for g in expiring
            if (expiry := g.expires_at) is not None
        ),
        grants=tuple(GrantView.of(g, now) for g in upcoming),
        created_at=wallet.created_at,
        updated_at=wallet.updated_at,
    )


def wallet_view(reader: LedgerReader | WriteUnit, wallet_id: str, now: datetime) -> WalletView:
    return view_of(reader, need_wallet(reader.get_wallet(wallet_id), wallet_id), now)


def wallet_page(
    reader: LedgerReader, cursor: str | None, limit: int, now: datetime, order: ListOrder = "asc"
) -> Page[WalletView]:
    kind = cursor_kind("w", order)
    wallets = reader.list_wallets(
        after_id=decode_cursor(kind, cursor), limit=limit + 1, descending=order == "desc"
    )
    items = [view_of(reader, w, now) for w in wallets[:limit]]
    more = len(wallets) > limit
    return Page(items=items, next_cursor=encode_cursor(kind, items[-1].id) if more else None)


def grant_page(
    reader: LedgerReader,
    wallet_id: str,
    query: GrantQuery,
    page: tuple[str | None, int],
    now: datetime,
) -> Page[GrantView]:
    """One page of the wallet's grants, newest first; the cursor names the last grant shown
    (its creation instant and id), so grants added meanwhile never shift a page."""
    cursor, limit = page
    before = decode_cursor("g", cursor)
    if before is not None:
        at, _, grant_id = before.partition("|")
        try:
            query = replace(query, before=(datetime.fromisoformat(at), grant_id))
        except ValueError:
            raise InvalidRequest.for_field(
                "cursor", cursor, "a next_cursor from a previous page"
            ) from None
        if not grant_id or query.before is None or query.before[0].tzinfo is None:
            raise InvalidRequest.for_field("cursor", cursor, "a next_cursor from a previous page")
    need_wallet(reader.get_wallet(wallet_id), wallet_id)
    found = reader.list_grants(wallet_id, query, limit=limit + 1)
    items = found[:limit]
    more = len(found) > limit
    last = items[-1] if items else None
    mark = None if last is None else f"{last.created_at.isoformat()}|{last.id}"
    return Page(
        items=[GrantView.of(g, now) for g in items],
        next_cursor=encode_cursor("g", mark) if more and mark is not None else None,
    )


def job_states(status: int | None, state: str | None) -> list[str] | None:
    """The job states a list asks for, by numbered status and/or state name."""
    states: list[str] | None = None
    if status is not None:
        if status not in (0, 1, 2) or isinstance(status, bool):
            raise InvalidRequest.for_field("status", status, "0, 1 or 2")
        states = [s for s, n in JOB_STATUS.items() if n == status]
    if state is not None:
        if state not in tuple(JobState):
            raise InvalidRequest.for_field("state", state, f"one of {', '.join(JobState)}")
        states = [s for s in (states or [state]) if s == state]
    return states


def job_page(
    reader: LedgerReader,
    wallet_id: str,
    states: list[str] | None,
    cursor: str | None,
    limit: int,
    order: ListOrder = "desc",
) -> Page[JobView]:
    kind = cursor_kind("j", order)
    after = int_cursor(kind, cursor)
    need_wallet(reader.get_wallet(wallet_id), wallet_id)
    jobs = reader.list_jobs(
        wallet_id, after_seq=after, limit=limit + 1, states=states, descending=order == "desc"
    )
    items = jobs[:limit]
    last = items[-1].seq if len(jobs) > limit else None  # a stored job has its seq
    return Page(
        items=[JobView.of(j) for j in items],
        next_cursor=None if last is None else encode_cursor(kind, last),
    )


def history_page(
    reader: LedgerReader, wallet_id: str, cursor: str | None, limit: int, order: ListOrder = "desc"
) -> Page[EntryView]:
    kind = cursor_kind("h", order)
    after = int_cursor(kind, cursor)
    need_wallet(reader.get_wallet(wallet_id), wallet_id)
    txs = reader.history(wallet_id, after_seq=after, limit=limit + 1, descending=order == "desc")
    items = [EntryView.of(tx) for tx in txs[:limit]]
    more = len(txs) > limit
    return Page(items=items, next_cursor=encode_cursor(kind, items[-1].seq) if more else None)


def events(reader: LedgerReader, after: str | None, limit: int) -> list[Event]:
    check_int("limit", limit, 1, limits.EVENTS_PAGE_MAX)
    return reader.events(after=event_position(after), limit=limit)


def find_job(reader: LedgerReader | WriteUnit, job_id: str) -> Job:
    job = reader.get_job(job_id)
    if job is None:
        raise JobNotFound(
            f"job_id: {job_id!r} does not exist",
            details={"field": "job_id", "value": job_id},
        )
    return job


def find_grant(reader: LedgerReader | WriteUnit, grant_id: str) -> Grant:
    grant = reader.get_grant(grant_id)
    if grant is None:
        raise GrantNotFound(
            f"grant_id: {grant_id!r} does not exist",
            details={"field": "grant_id", "value": grant_id},
        )
    return grant
