"""Group commit: many callers' units of work in ONE database transaction.

:class:`GroupCommitStore` wraps a :class:`~gencredits.storage.sql.store.SqlStore`.  Callers hand
their unit with its :class:`~gencredits.ledger.store.UnitHints` (which wallet, job or grant
and which idempotency key it will touch; see :meth:`run_unit`) to one writer thread per
process, which drains the queue (up to ``max_batch`` units, 256 by default), runs the batch
as staged units (:mod:`gencredits.storage.sql.staged`: the batch's wallets locked in id order
and its rows loaded with one query per table, each unit computed in memory, the net effect
written with one multi-row statement per table), commits once, and only then answers every
caller.  A unit that raises gets its exception and its writes are dropped; the others are
unaffected.  If writing or committing the batch fails, nothing of it happened: after a
conflict (a unique key another process took first, a deadlock) its units are run again one
per transaction, so only the conflicting call's caller gets :class:`RetryableConflict` (and
retries under the same idempotency key, then sees the winner's effect and answers as a
replay); after any other error every caller gets it.

With a shard count (``GENCREDITS_SHARD_COUNT``, a power of two; :mod:`gencredits.shards`), a
batch only ever holds units of one shard: the writer takes the oldest waiting unit, then only
units of the same shard (placed by :attr:`UnitHints.bucket <gencredits.ledger.store.UnitHints>`,
without a read); the others wait, in their order, and the oldest of them starts the next batch,
so none starves.  A unit whose hints place it nowhere runs in a batch of its own.

Turned on in the HTTP service by the ``GENCREDITS_GROUP_COMMIT`` setting (on by default), in a
program by ``Billing.from_url(url, group_commit=True)`` or
``gencredits.ledger.store.open_store(url, group_commit=True)``.

When callers are answered: after their batch has committed, at once when no batch is
waiting, else just before the NEXT batch commits.  A commit waits on the disk without
holding Python's GIL, so the woken callers build their answers and their next calls
meanwhile instead of competing with the next batch's work for the one GIL
(``tests/ledger/test_group_commit.py`` slows every commit and checks that no caller is
answered before its own commit, nor after the next one).

The writer does as little as it can per call, since everything it does is paid serially: it
keeps one connection from batch to batch (a fresh one after a failed batch); the batch's
statements are compiled once and run on the driver's own cursor
(:mod:`gencredits.storage.sql.driver`); and ``Billing`` works out a submission's price in the
caller's thread before the call is queued (a pricing error is still raised inside the unit,
after the wallet check and never on a replay, so errors keep their order) and builds its
answer (``JobView``) in the caller's thread from the committed row.

Why: a commit (fsync, lock hand-over) per operation caps a hot wallet at the backend's
one-row rate, and ten-odd statements per operation cap it at the CPU's; a batch pays the
commit once and a few statements in all, as TigerBeetle does.  Wallet rows are locked as
usual (``SELECT ... FOR UPDATE``), so other processes (with or without batching) stay
correct, and because a batch takes all its locks up front in id order, two processes'
batches cannot deadlock on each other.  Reads (:meth:`GroupCommitStore.reader`) do not queue.
(Figures: bench/RESULTS.md.)
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.deadline import NS_PER_S, remaining
from gencredits.errors import Unavailable
from gencredits.ledger.store import UnitHints, WriteUnit
from gencredits.shards import check_shard_count, shard_of
from gencredits.storage.sql.outbound import SqlOutbound
from gencredits.storage.sql.staged import BatchState, StagedUnit
from gencredits.storage.sql.store import (
    SqlReader,
    SqlStore,
    SqlUnit,
    as_retryable,
    unreachable,
)

__all__ = ["GroupCommitStore"]

T = TypeVar("T")


class _Pending:
    __slots__ = ("abandoned", "done", "error", "hints", "result", "shard", "unit")

    def __init__(
        self, unit: Callable[[Any], Any], hints: UnitHints, shard: int | None = None
    ) -> None:
        self.unit = unit
        self.hints = hints
        #: the shard its hints place it in (only when batches are grouped by shard)
        self.shard = shard
        # Held until the writer answers: a bare lock, one per call (an Event would be a
        # Condition around one, with more to build and to wake).
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None
        #: set by a caller that stopped waiting: the writer skips the unit if not yet begun
        self.abandoned = False


class GroupCommitStore:
    """A SQL store whose writes are group-committed by one writer thread per process."""

    def __init__(
        self,
        inner: SqlStore,
        *,
        max_batch: int = 256,
        writers: int = 1,
        deadline_s: float | None = None,
        shard_count: int = 0,
        on_commit: Callable[[Sequence[UnitHints]], None] | None = None,
    ) -> None:
        """``writers``: writer threads, each running its own batches.  One is best: more
        writers make smaller batches and share one GIL, and on SQLite they take turns anyway
        (``bench/ledger.py --writers``; figures: bench/RESULTS.md).  Several processes each
        have their own.

        ``deadline_s``: how long a caller waits for its batch to commit (``None``: as long as
        it takes; a request's own deadline, if nearer, wins: :mod:`gencredits.deadline`).
        Past it the caller gets :class:`~gencredits.errors.Unavailable` and the
        writer skips its unit if it has not begun it; if it has, the unit's outcome is
        unknown to the caller, and a retry under the same idempotency key answers what was
        stored (or does it, if nothing was).  The writer itself is unstuck by the engine's
        own wait limit (``make_engine(wait_s=...)``).

        ``shard_count``: 0 or 1, batches mix every wallet; a power of two up to 1024, each
        batch holds units of one shard only (see the module's docstring).  ``on_commit``:
        called by the writer with the hints of each batch's units once it has committed
        (for tests and measurements)."""
        if deadline_s is not None and not 0 < deadline_s <= 3_600:
            raise ValueError("deadline_s: more than 0, at most 3,600")
        if not 1 <= max_batch <= 1_000:
            raise ValueError("max_batch: from 1 to 1,000")
        if not 1 <= writers <= 64:
            raise ValueError("writers: from 1 to 64")
        try:
            check_shard_count(shard_count)
        except ValueError as exc:
            raise ValueError(f"shard_count: {shard_count!r}; allowed: {exc}") from None
        self.inner = inner
        self.engine = inner.engine
        self.backend = inner.backend
        self.max_batch = max_batch
        self.deadline_s = deadline_s
        self.shard_count = shard_count if shard_count > 1 else 0
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()  # no call can queue once close() has begun
        self._count_lock = threading.Lock()
        self._local = threading.local()  # each writer thread's connection
        #: batches committed and units in them (for the benchmark and tests)
        self.batches = 0
        self.units = 0
        self._writers = [
            threading.Thread(
                target=self._write_loop, name=f"gencredits-group-commit-{i}", daemon=True
            )
            for i in range(writers)
        ]
        for writer in self._writers:
            writer.start()

    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnit]:
        """A writing transaction of the inner store, outside the batches (for tests)."""
        with self.inner.unit_of_work() as uow:
            yield uow

    @contextmanager
    def reader(self) -> Iterator[SqlReader]:
        """A read-only transaction of the inner store: reads do not queue."""
        with self.inner.reader() as reader:
            yield reader

    def run_unit(self, unit: Callable[[WriteUnit], T], hints: UnitHints) -> T:
        """Queue ``unit`` for the next batch; answer once that batch has committed.  A unit
        that is a batch of its own (``hints.alone``: a tick's renewals) runs on the inner
        store, in its own transaction, under the same writer lock on SQLite."""
        if hints.alone:
            return self.inner.run_unit(unit, hints)
        pending = _Pending(unit, hints)
        if self.shard_count:  # placed here, in the caller's thread, not by the writer
            bucket = hints.bucket
            pending.shard = None if bucket is None else shard_of(bucket, self.shard_count)
        with self._close_lock:
            if self._closed:
                raise RuntimeError("the group-commit store is closed")
            self._queue.put(pending)
        limit = None if self.deadline_s is None else round(self.deadline_s * NS_PER_S)
        wait_ns = remaining(limit)
        if not pending.done.acquire(timeout=-1 if wait_ns is None else wait_ns / NS_PER_S):
            pending.abandoned = True
            raise Unavailable(
                f"the database did not commit this write in time ({self.deadline_s} s); retry "
                "with the same idempotency key (it answers what was stored, or does it)",
                details={"retryable": True, "deadline_s": self.deadline_s},
            )
        if pending.error is not None:
            raise pending.error
        result: T = pending.result
        return result

    def outbound(self) -> SqlOutbound:
        return self.inner.outbound()

    def forget_idempotency(self, before: datetime, *, limit: int) -> int:
        return self.inner.forget_idempotency(before, limit=limit)

    def forget_events(self, before: datetime, *, limit: int) -> int:
        return self.inner.forget_events(before, limit=limit)

    def close(self) -> None:
        with self._close_lock:
            closing, self._closed = not self._closed, True
            if closing:
                for _writer in self._writers:
                    self._queue.put(None)
        if closing:
            for writer in self._writers:
                writer.join()
            while True:  # calls queued behind the stop signals get an answer, not a hang
                try:
                    late = self._queue.get_nowait()
                except queue.Empty:
                    break
                if late is not None:
                    late.error = RuntimeError("the group-commit store is closed")
                    late.done.release()
        self.inner.close()

    def _write_loop(self) -> None:
        try:
            self._drain()
        finally:
            self._answer_held()
            self._release_connection()

    def _drain(self) -> None:
        #: units this writer took from the queue but left for a later batch (another shard's)
        waiting: deque[_Pending] = deque()
        while True:
            if waiting:
                first: _Pending | None = waiting.popleft()
            else:
                try:
                    first = self._queue.get_nowait()
                except queue.Empty:
                    self._answer_held()  # no next batch to overlap with: answer now
                    first = self._queue.get()
            if first is None:
                return
            if self.shard_count:
                batch, stop = self._one_shard(first, waiting)
            else:
                batch, stop = [first], False
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
                while waiting:  # taken before the stop signal: each gets its answer
                    self._run_batch(self._one_shard(waiting.popleft(), waiting, more=False)[0])
                return

    def _one_shard(
        self, first: _Pending, waiting: deque[_Pending], *, more: bool = True
    ) -> tuple[list[_Pending], bool]:
        """``first`` and the units of its shard that wait (in ``waiting``, then in the queue
        if ``more``), up to ``max_batch``, in their order; the others are left in ``waiting``
        in theirs.  A unit placed in no shard is a batch of its own.  Also whether the stop
        signal was taken from the queue."""
        batch = [first]
        if first.shard is None:
            return batch, False
        kept: list[_Pending] = []
        for pending in waiting:
            if len(batch) < self.max_batch and pending.shard == first.shard:
                batch.append(pending)
            else:
                kept.append(pending)
        waiting.clear()
        waiting.extend(kept)
        while more and len(batch) < self.max_batch:
            try:
                pending_or_stop = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending_or_stop is None:
                return batch, True
            if pending_or_stop.shard == first.shard:
                batch.append(pending_or_stop)
            else:
                waiting.append(pending_or_stop)
        return batch, False

    def _connection(self) -> Connection:
        """This writer thread's own connection, kept from batch to batch: a pool checkout,
        its reset (a rollback) and its return per batch were a visible share of the writer's
        time (figures: bench/RESULTS.md)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.engine.connect()
        return conn

    def _release_connection(self) -> None:
        """Give this thread's connection back (after a failed batch, a fresh one serves the
        next: it may have been the connection that broke)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _answer_held(self) -> None:
        """Wake the callers of this thread's last committed batch (see :meth:`_attempt`)."""
        held: list[_Pending] = getattr(self._local, "held", None) or []
        self._local.held = None
        for pending in held:
            pending.done.release()

    def _run_batch(self, batch: list[_Pending]) -> None:
        for pending in batch:
            if pending.abandoned:  # its caller has gone: nobody to answer, nothing to do
                pending.done.release()
        batch = [pending for pending in batch if not pending.abandoned]
        if not batch:
            return
        try:
            self._attempt(batch)
        except Exception as exc:  # nothing of this batch happened (or, cut mid-commit, maybe)
            self._answer_held()
            self._release_connection()
            if len(batch) > 1 and not unreachable(exc):
                # One call's failure (a row another process wrote first, a deadlock, a value
                # that cannot be stored) must not fail the calls batched with it: run each
                # alone, so only its own caller gets the error (a conflict is then retried
                # and sees the winner's effect).
                for pending in batch:
                    self._run_batch([pending])
                return
            error = as_retryable(exc)
            for pending in batch:
                pending.result, pending.error = None, error
                pending.done.release()
        except BaseException as exc:  # the writer is being torn down: answer, then stop
            self._answer_held()
            for pending in batch:
                pending.result, pending.error = None, exc
                pending.done.release()
            raise

    def _attempt(self, batch: list[_Pending]) -> None:
        """Run the batch as one transaction; its callers are answered once it committed.

        Pipelined: a committed batch's callers are woken just before the NEXT batch commits
        (or at once when no batch follows).  The commit waits on the disk without the GIL, so
        the woken callers build their answers and their next calls while it does; woken
        earlier, they would compete with this batch's Python work for the one GIL instead.
        No caller is answered before its own batch has committed."""
        conn = self._connection()
        with self.inner.writer_lock(), conn.begin():
            state = BatchState(conn, self.backend)
            state.prefetch(p.hints for p in batch)
            for pending in batch:
                pending.result, pending.error = None, None
                unit = StagedUnit(state)
                try:
                    pending.result = pending.unit(unit)
                except sa.exc.DBAPIError:
                    raise  # the transaction is doomed (PostgreSQL aborts it): fail the batch
                except Exception as exc:
                    pending.error = as_retryable(exc)
                else:
                    state.absorb(unit)
            state.flush()
            self._answer_held()  # the commit, as this block ends, waits without the GIL
        with self._count_lock:
            self.batches += 1
            self.units += len(batch)
        self._local.held = batch
        if self.on_commit is not None:
            self.on_commit([pending.hints for pending in batch])
