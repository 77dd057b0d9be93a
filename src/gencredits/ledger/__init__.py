"""The credit ledger core: domain values, the store port and its adapters.

Import direction: ``billing`` uses this package; nothing here imports billing, a web
framework or a database driver (the SQL adapter uses SQLAlchemy only).
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
from gencredits.ledger.store import AuditSnapshot, LedgerStore, RetryableConflict, UnitOfWork

__all__ = [
    "DEFAULT_KIND_PRIORITIES",
    "AuditSnapshot",
    "Event",
    "Grant",
    "HoldLeg",
    "IdempotencyRecord",
    "Job",
    "JobState",
    "LedgerStore",
    "MemoryStore",
    "Posting",
    "RetryableConflict",
    "Transaction",
    "UnitOfWork",
    "Wallet",
]
