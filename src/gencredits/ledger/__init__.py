"""The credit ledger core: domain values, the store port and its adapters.

Import direction: ``billing`` uses this package; nothing here imports billing, a web
framework, SQLAlchemy or a database driver.  The SQL adapter lives in
:mod:`gencredits.storage.sql`, named only by :func:`~gencredits.ledger.store.open_store`.
"""

from gencredits.ledger.memory import MemoryStore
from gencredits.ledger.model import (
    DEFAULT_KIND_PRIORITIES,
    Event,
    Grant,
    HoldLeg,
    IdempotencyRecord,
    Job,
    JobState,
    Posting,
    Transaction,
    Wallet,
)
from gencredits.ledger.store import (
    AuditSnapshot,
    LedgerReader,
    LedgerStore,
    RetryableConflict,
    UnitHints,
    WriteUnit,
    open_store,
)

__all__ = [
    "DEFAULT_KIND_PRIORITIES",
    "AuditSnapshot",
    "Event",
    "Grant",
    "HoldLeg",
    "IdempotencyRecord",
    "Job",
    "JobState",
    "LedgerReader",
    "LedgerStore",
    "MemoryStore",
    "Posting",
    "RetryableConflict",
    "Transaction",
    "UnitHints",
    "Wallet",
    "WriteUnit",
    "open_store",
]
