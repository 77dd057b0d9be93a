"""Group commit: many callers' units of work in ONE database transaction.

:class:`GroupCommitStore` wraps a :class:`~gencredits.ledger.sql.SqlStore`.  Callers hand
their unit (see :meth:`run_unit`) to one writer thread, which drains the queue (up to
``max_batch`` units), runs each unit inside its own SAVEPOINT of a shared transaction, commits
once, and only then answers every caller.  A unit that fails rolls back to its savepoint and
gets its exception; the others are unaffected.  If the commit itself fails, every unit of the
batch gets the error and nothing of the batch happened (callers retry under the same
idempotency key).

Why: a commit (fsync, lock hand-over) per operation caps a hot wallet at the backend's
one-row rate; a batch pays it once for many operations, as TigerBeetle does.  The wallet
row lock is taken per unit as usual, so other processes (with or without batching) stay
correct; on PostgreSQL a batch first locks all its wallets in id order (units that expose
``unit.locate``), so two processes' batches cannot deadlock on each other.
Reads (``unit_of_work(readonly=True)``) do not queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from gencredits.ledger.sql import SqlStore, _SqlUnit
from gencredits.ledger.store import RetryableConflict

__all__ = ["GroupCommitStore"]

T = TypeVar("T")

_RETRY_SQLSTATES = {"40001", "40P01", "23505"}


class _Pending:
    __slots__ = ("done", "error", "result", "unit")

    def __init__(self, unit: Callable[[Any], Any]) -> None:
        self.unit = unit
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sa.exc.IntegrityError):
        return RetryableConflict(str(exc.orig))
    if isinstance(exc, sa.exc.OperationalError) and (
        getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES
    ):
        return RetryableConflict(str(exc.orig))
    return exc


class GroupCommitStore:
    """A SQL store whose writes are group-committed by one writer thread per process."""

    def __init__(self, inner: SqlStore, *, max_batch: int = 256) -> None:
        if not 1 <= max_batch <= 10_000:
            raise ValueError("max_batch: from 1 to 10,000")
        self.inner = inner
        self.engine = inner.engine
        self.backend = inner.backend
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(
            target=self._write_loop, name="gencredits-group-commit", daemon=True
        )
        self._writer.start()
        #: batches committed and units in them (for the benchmark and tests)
        self.batches = 0
        self.units = 0

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[Any]:
        with self.inner.unit_of_work(readonly=readonly) as uow:
            yield uow

    def run_unit(self, unit: Callable[[Any], T]) -> T:
        if self._closed:
            raise RuntimeError("the group-commit store is closed")
        pending = _Pending(unit)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        result: T = pending.result
        return result

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._writer.join()
        self.inner.close()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)
            if stop:
                return

    def _lock_in_order(self, uow: _SqlUnit, batch: list[_Pending]) -> None:
        """Lock every wallet the batch will touch up front, in id order.

        Units lock their wallet when they start; two processes' batches doing that in arrival
        order would deadlock on PostgreSQL (each holding some wallets the other wants).
        Taking all of a batch's locks first, sorted, makes lock order global; a unit's own
        ``lock_wallet`` then finds its row already locked by this transaction.
        """
        if self.backend != "postgresql" or len(batch) < 2:
            return
        wallets: set[str] = set()
        for pending in batch:
            locate = getattr(pending.unit, "locate", None)
            if locate is None:
                continue
            savepoint = uow.c.begin_nested()
            try:
                wallets.add(locate(uow))
                savepoint.commit()
            except Exception:
                savepoint.rollback()  # the unit will meet the same problem and report it
        for wallet_id in sorted(wallets):
            uow.lock_wallet(wallet_id)

    def _run_batch(self, batch: list[_Pending]) -> None:
        try:
            with self.inner.writer_lock(), self.engine.connect() as conn, conn.begin():
                uow = _SqlUnit(conn, self.backend)
                self._lock_in_order(uow, batch)
                for pending in batch:
                    savepoint = conn.begin_nested()
                    try:
                        pending.result = pending.unit(uow)
                        savepoint.commit()
                    except BaseException as exc:
                        if savepoint.is_active:
                            savepoint.rollback()
                        pending.error = _translate(exc)
            self.batches += 1
            self.units += len(batch)
        except BaseException as exc:  # the commit failed: nothing of this batch happened
            error = _translate(exc)
            for pending in batch:
                pending.result, pending.error = None, pending.error or error
        finally:
            for pending in batch:
                pending.done.set()
