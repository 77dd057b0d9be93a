"""Per-wallet state documents (teams, members, usage, alert arming) in a group-commit batch
(see :mod:`.staged`): :class:`StateBatch` is the batch's part (the documents read under its
locks or written by its finished units, upserted with one statement), :class:`StateStaged`
the unit's part.  Reads: this unit's, else the batch's, else the database's."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import InList
from gencredits.storage.sql.store import upsert_state

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from gencredits.storage.sql.driver import SentSelect
    from gencredits.storage.sql.staged import BatchState

__all__ = ["WATCHED_STATE", "StateBatch", "StateStaged", "watched_send"]

StateName = tuple[str, str, str]

#: The state documents every unit of a wallet reads (its team settings and alert rules),
#: loaded with the wallet's lock so a batch reads them once, not once per unit.
WATCHED_STATE = (("team", ""), ("alerts", ""))
_WATCHED = InList(
    lambda m: sa.select(
        t.wallet_state.c.wallet_id,
        t.wallet_state.c.kind,
        t.wallet_state.c.key,
        t.wallet_state.c.data,
    ).where(
        t.wallet_state.c.wallet_id.in_(m),
        sa.or_(
            *(t.wallet_state.c.kind == sa.literal_column(f"'{kind}'") for kind, _ in WATCHED_STATE)
        ),
        t.wallet_state.c.key == sa.literal_column("''"),
    )
)


def watched_send(conn: Connection, wallet_ids: Sequence[str]) -> SentSelect:
    """Send the read of these wallets' watched documents (answered after their locks)."""
    return _WATCHED.send(conn, wallet_ids)


class StateBatch:
    """Mixed into :class:`~gencredits.storage.sql.staged.BatchState`."""

    known: dict[str, dict[str, None]]

    def state_init(self) -> None:
        #: state documents read under this batch's locks or written by it, current values
        self.state: dict[StateName, Mapping[str, Any] | None] = {}
        self.changed_state: dict[StateName, None] = {}

    def receive_watched(self, locked: Sequence[str], documents: Sequence[Any]) -> None:
        """Remember the watched documents of the wallets just locked (absent: ``None``)."""
        for wallet_id in locked:
            for kind, key in WATCHED_STATE:
                self.state.setdefault((wallet_id, kind, key), None)
        for wallet_id, kind, key, data in documents:
            if wallet_id not in self.known:
                continue
            if isinstance(data, str):  # a driver that hands JSON back as text
                data = json.loads(data)
            self.state[(wallet_id, kind, key)] = data

    def state_absorb(self, written: Mapping[StateName, Mapping[str, Any]]) -> None:
        """A unit finished: its documents become the batch's."""
        for name, data in written.items():
            self.state[name] = data
            self.changed_state[name] = None

    def state_flush(self, conn: Connection, backend: str) -> None:
        documents = [
            {"wallet_id": w, "kind": k, "key": key, "data": dict(self.state[(w, k, key)] or {})}
            for (w, k, key) in sorted(self.changed_state)
        ]
        upsert_state(conn, backend, documents)


class StateStaged:
    """Mixed into :class:`~gencredits.storage.sql.staged.StagedUnit`."""

    b: BatchState
    state: dict[StateName, Mapping[str, Any]]

    # state documents: this unit's, else the batch's, else the database's (kept when the
    # wallet is locked by this batch, so later units of the batch see earlier ones' writes)
    def get_state(self, wallet_id: str, kind: str, key: str) -> Mapping[str, Any] | None:
        name = (wallet_id, kind, key)
        if name in self.state:
            return self.state[name]
        if name in self.b.state:
            return self.b.state[name]
        data = self.b.sql.get_state(wallet_id, kind, key)
        if wallet_id in self.b.wallets:
            self.b.state[name] = data
        return data

    def put_state(self, wallet_id: str, kind: str, key: str, data: Mapping[str, Any]) -> None:
        self.state[(wallet_id, kind, key)] = dict(data)

    def list_state(self, wallet_id: str, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
        found: dict[str, Mapping[str, Any] | None] = dict(self.b.sql.list_state(wallet_id, kind))
        for written in (self.b.state, self.state):
            for (w, k, key), data in written.items():
                if (w, k) == (wallet_id, kind):
                    found[key] = data
        return sorted(((k, v) for k, v in found.items() if v is not None), key=lambda kv: kv[0])
