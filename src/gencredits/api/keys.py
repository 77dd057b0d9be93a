"""API keys: stored only as SHA-256 hashes, shown once, each with scopes.

A key looks like ``gck_<43 url-safe characters>`` (256 random bits).  The database keeps
its SHA-256 hash, a short display prefix and its scopes, never the key itself: a leaked
database does not leak working keys, and a lost key is revoked and replaced, not recovered.
A plain hash (no salt, no slow KDF) is enough because keys are random, not passwords, and
it lets a request find its key with one indexed equality lookup.

Scopes nest: ``admin`` ⊇ ``billing`` ⊇ ``read`` ⊇ ``publishable``.  A publishable key may
only list catalogs and models and price (quotes, comparisons): it is the key a platform
prints in its web pages (the cost widget), so it can never read or move credits, and its
requests are rate-limited (``publishable_rate_per_min``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gencredits.errors import InvalidRequest, KeyNotFound
from gencredits.limits import API_KEY_NAME_LEN_MAX
from gencredits.storage.sql.engine import read_transaction

__all__ = [
    "SCOPES",
    "ApiKey",
    "KeyStore",
    "Scope",
    "api_keys",
    "grants_scope",
    "hash_key",
]

Scope = Literal["admin", "billing", "read", "publishable"]
SCOPES: tuple[Scope, ...] = ("admin", "billing", "read", "publishable")
#: What each scope allows, itself included.
_IMPLIES: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "billing", "read", "publishable"}),
    "billing": frozenset({"billing", "read", "publishable"}),
    "read": frozenset({"read", "publishable"}),
    "publishable": frozenset({"publishable"}),
}
KEY_PREFIX = "gck_"
NAME_LENGTH_MAX = API_KEY_NAME_LEN_MAX

metadata = sa.MetaData()
#: The table; created by the Alembic revision ``0002_api_keys`` (kept in step with it).
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH_MAX), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("display_prefix", sa.String(16), nullable=False),
    sa.Column("scopes", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def grants_scope(held: Iterable[str], needed: str) -> bool:
    """True when any of the ``held`` scopes allows ``needed``."""
    return any(needed in _IMPLIES.get(s, ()) for s in held)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    display_prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.display_prefix,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
        }


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time stored here was UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _row_to_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        display_prefix=row.display_prefix,
        scopes=tuple(row.scopes.split()),
        created_at=_as_utc(row.created_at),
        revoked_at=None if row.revoked_at is None else _as_utc(row.revoked_at),
    )


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(scopes))
    if not chosen:
        raise InvalidRequest.for_field("scopes", [], f"at least one of {', '.join(SCOPES)}")
    for s in chosen:
        if s not in SCOPES:
            raise InvalidRequest.for_field("scopes", s, f"one of {', '.join(SCOPES)}")
    return chosen


class KeyStore:
    """The ``api_keys`` table.  Each call is its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _reading(self) -> AbstractContextManager[Connection]:
        # A read-only snapshot: no write lock on SQLite (the SQL engine issues BEGIN IMMEDIATE
        # otherwise), REPEATABLE READ READ ONLY on PostgreSQL, like every read of the ledger.
        return read_transaction(self.engine)

    def create(
        self, name: str, scopes: Iterable[str], *, now: datetime | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is returned here and never again."""
        chosen = check_scopes(scopes)
        name = name.strip()
        if not name or len(name) > NAME_LENGTH_MAX or any(ord(c) < 32 for c in name):
            raise InvalidRequest.for_field(
                "name", name, f"1 to {NAME_LENGTH_MAX} printable characters"
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(
            id="key_" + secrets.token_hex(8),
            name=name,
            display_prefix=secret[:10],
            scopes=chosen,
            created_at=now or datetime.now(UTC),
            revoked_at=None,
        )
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=record.id,
                    name=record.name,
                    key_hash=hash_key(secret),
                    display_prefix=record.display_prefix,
                    scopes=" ".join(record.scopes),
                    created_at=record.created_at,
                    revoked_at=None,
                )
            )
        return record, secret

    def lookup(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None (unknown or revoked)."""
        if not secret.startswith(KEY_PREFIX):
            return None
        with self._reading() as conn:
            row = conn.execute(
                sa.select(api_keys).where(
                    api_keys.c.key_hash == hash_key(secret), api_keys.c.revoked_at.is_(None)
                )
            ).first()
        return None if row is None else _row_to_key(row)

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._reading() as conn:
            return [_row_to_key(r) for r in conn.execute(query)]

    def get(self, key_id: str) -> ApiKey:
        with self._reading() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise KeyNotFound(
                f"key: {key_id!r} does not exist",
                details={"field": "key_id", "value": key_id},
            )
        return _row_to_key(row)

    def revoke(self, key_id: str, *, now: datetime | None = None) -> ApiKey:
        """Revoke a key (idempotent: revoking a revoked key returns it unchanged)."""
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now or datetime.now(UTC))
            )
        return self.get(key_id)

    def has_active_admin(self) -> bool:
        return any("admin" in k.scopes for k in self.list())
