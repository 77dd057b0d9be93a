"""Published catalog versions: the stored record and the port that keeps them.

A version is the text of a catalog file as an operator published it, with the instant it
takes effect.  The ledger only keeps them (plain values: no pricing here); which one is
active at an instant, and what its prices are, is :mod:`gencredits.billing.catalog_versions`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

__all__ = ["CatalogVersionRecord", "CatalogVersionStore", "MemoryCatalogVersions"]


@dataclass(frozen=True, slots=True)
class CatalogVersionRecord:
    """One published version of one catalog (``version`` is the file's own version text)."""

    catalog: str
    version: str
    content_hash: str
    text: str
    effective_at: datetime
    published_at: datetime
    published_by: str
    seq: int = 0  # the store's order of publication (0 until stored)


class CatalogVersionStore(Protocol):
    def list_versions(
        self, catalog: str | None = None, *, with_text: bool = True
    ) -> list[CatalogVersionRecord]:
        """Every stored version (of one catalog, or all), by catalog, then publication order;
        ``with_text=False``: each ``text`` empty (what a worker re-reads often)."""
        ...

    def insert_version(self, record: CatalogVersionRecord) -> CatalogVersionRecord | None:
        """Store ``record``; ``None`` (and nothing stored) when its (catalog, version) exists."""
        ...


class MemoryCatalogVersions:
    """The in-memory store of versions (tests, and services on the memory ledger)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[CatalogVersionRecord] = []

    def list_versions(
        self, catalog: str | None = None, *, with_text: bool = True
    ) -> list[CatalogVersionRecord]:
        with self._lock:
            rows = [r for r in self._rows if catalog is None or r.catalog == catalog]
        if not with_text:
            rows = [replace(r, text="") for r in rows]
        return sorted(rows, key=lambda r: (r.catalog, r.seq))

    def insert_version(self, record: CatalogVersionRecord) -> CatalogVersionRecord | None:
        with self._lock:
            if any((r.catalog, r.version) == (record.catalog, record.version) for r in self._rows):
                return None
            stored = replace(record, seq=len(self._rows) + 1)
            self._rows.append(stored)
            return stored
