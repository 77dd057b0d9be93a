"""Capacity per ledger operation: Python CPU, PostgreSQL CPU, WAL and storage per job.

On a fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards) and on a SQLite temporary
file, runs ``--pairs`` submit+complete pairs (a pair is one job and two ledger operations)
through ``Billing`` in-process, over ``--wallets`` wallets, in two modes:

* plain: one thread, one database transaction per call;
* group: ``--threads`` (32) threads through :class:`GroupCommitStore` (one writer thread).

Each mode first runs ``--warmup`` pairs (connections open, tables have history, then
``ANALYZE``), then the measured pairs, and reports per ledger operation:

* Python CPU: user+system CPU of this whole process (every thread; on SQLite this includes
  the database engine itself, which runs in-process);
* PostgreSQL CPU of the backends that served the run (``pg_stat_activity`` rows of the bench
  database, ``/proc/<pid>/stat`` utime+stime before and after; a backend that appears during
  the run counts from its start), and separately of the server's background writer, WAL
  writer and checkpointer (server-wide: other databases' writes count too);
* WAL bytes: ``pg_current_wal_lsn()`` after minus before (server-wide), and the records
  that touch this database's blocks (``pg_walinspect``; commit records touch no block, so
  this is a lower bound that other databases' writes cannot inflate), and of those the
  full-page images (the first change of a page after a checkpoint writes the whole page: a
  run that spans a checkpoint shows several times the WAL of one that does not);
* storage per job: ``pg_total_relation_size`` (heap, indexes, TOAST) of every table of the
  database after minus before, over the jobs (no vacuum runs meanwhile: dead row versions
  count, as on a server between vacuums); SQLite: the file's size after a WAL checkpoint;
* wall-clock ledger operations per second of the process.

The server and machine must be local (it reads ``/proc``).  Prints a progress line on stderr
and Markdown tables on stdout (for bench/RESULTS.md and docs/scaling.md).

Usage: ``.venv/bin/python bench/capacity.py [--pairs 3000] [--warmup 300] [--threads 32]
[--wallets 1000] [--backends postgresql,sqlite] [--modes plain,group]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import sqlalchemy as sa

import ledger as bench
from benchdb import HOST, fresh_database
from gencredits.billing import Billing
from gencredits.pricing import CatalogSet, parse_catalog
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

TICK = os.sysconf("SC_CLK_TCK")
BACKGROUND = ("background writer", "walwriter", "checkpointer")
#: bytes per job after VACUUM FULL (live rows only), by backend
COMPACT: dict[str, float] = {}


def process_cpu() -> float:
    """User + system CPU seconds of this process, all threads."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def pid_cpu(pid: int) -> float:
    """User + system CPU seconds of a local process (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


@dataclass
class Sample:
    """What one side (before or after) of a measured run reads."""

    cpu: float
    wall: float
    backends: dict[int, float] = field(default_factory=dict)
    background: float = 0.0
    lsn: int = 0
    sizes: dict[str, int] = field(default_factory=dict)


class Server:
    """The monitoring connection to the bench database (its own backend is left out)."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.conn = psycopg.connect(host=HOST, user="postgres", dbname=db, autocommit=True)
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        slot = f"cap_{uuid.uuid4().hex[:10]}"  # temporary: keeps the WAL until it is read
        self.conn.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", (slot,))

    def sample(self) -> Sample:
        rows = self.conn.execute(
            "SELECT pid, backend_type, datname FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND (datname = %s OR backend_type = ANY(%s))",
            (self.db, list(BACKGROUND)),
        ).fetchall()
        backends = {pid: pid_cpu(pid) for pid, kind, db in rows if db == self.db}
        background = sum(pid_cpu(pid) for pid, kind, _db in rows if kind in BACKGROUND)
        lsn = self.conn.execute("SELECT pg_current_wal_lsn() - '0/0'").fetchone()
        sizes = self.conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public'"
        ).fetchall()
        return Sample(
            process_cpu(),
            time.perf_counter(),
            backends,
            background,
            int(lsn[0]) if lsn else 0,
            {name: int(size) for name, size in sizes},
        )

    def compact(self) -> int:
        """Bytes of every table after VACUUM FULL (live rows only, indexes rebuilt)."""
        self.conn.execute("VACUUM FULL")
        return sum(self.sample().sizes.values())

    def own_wal(self, start: int, end: int) -> tuple[int, int]:
        """(all bytes, full-page-image bytes) of the WAL records touching this database."""
        row = self.conn.execute(
            "SELECT coalesce(sum(record_length), 0), coalesce(sum(fpi_length), 0) "
            "FROM pg_get_wal_records_info(%s, %s) "
            "WHERE block_ref LIKE '%%/' || (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) || '/%%'",
            (lsn_text(start), lsn_text(end)),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def close(self) -> None:
        self.conn.close()  # drops the temporary slot


def lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


class SqliteFile:
    """The SQLite file's size after a checkpoint (the WAL folded into the main file)."""

    def __init__(self, url: str) -> None:
        self.path = Path(sa.make_url(url).database or "")
        self.engine = sa.create_engine(url)

    def sample(self) -> Sample:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        size = self.path.stat().st_size
        return Sample(process_cpu(), time.perf_counter(), sizes={"file": size})

    def compact(self) -> int:
        """The file's size after VACUUM (live rows only)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
        return self.sample().sizes["file"]

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def progress(label: str, total: int, done: list[int]) -> Iterator[None]:
    """A progress line on stderr, refreshed twice a second while the block runs."""
    stop = threading.Event()

    def show() -> None:
        while not stop.wait(0.5):
            print(f"\r  {label}: {done[0]:,}/{total:,} pairs", end="", file=sys.stderr)

    shower = threading.Thread(target=show, daemon=True)
    shower.start()
    try:
        yield
    finally:
        stop.set()
        shower.join()
        print(f"\r  {label}: {done[0]:,}/{total:,} pairs", file=sys.stderr)


def run_pairs(billing: Billing, args: argparse.Namespace, count: int, threads: int) -> None:
    """``count`` submit+complete pairs over ``threads`` threads, random wallets."""
    run = uuid.uuid4().hex[:6]
    numbers = itertools.count()
    done = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not errors:
                with lock:
                    n = next(numbers)
                if n >= count:
                    return
                wid = f"u{rng.randrange(args.wallets):05d}"
                job = billing.submit(wid, "img", idempotency_key=f"{run}-{n}")
                billing.complete(job.id, idempotency_key=f"{run}-{n}-done")
                with lock:
                    done[0] += 1
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    with progress(f"{args.label} ({count:,})", count, done):
        pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    if errors:
        raise errors[0]


@dataclass
class Figures:
    backend: str
    mode: str
    pairs: int
    ops_per_s: float
    python_us: float
    pg_us: float | None = None
    background_us: float | None = None
    wal_server: float | None = None
    wal_own: float | None = None
    wal_images: float | None = None
    storage: float = 0.0
    per_table: dict[str, float] = field(default_factory=dict)
    note: str = ""


def figures(
    backend: str, mode: str, pairs: int, before: Sample, after: Sample, server: Server | None
) -> Figures:
    """Per-operation figures of one measured run from its two samples."""
    ops = 2 * pairs
    found = Figures(
        backend,
        mode,
        pairs,
        ops / (after.wall - before.wall),
        (after.cpu - before.cpu) / ops * 1e6,
    )
    growth = {t: after.sizes.get(t, 0) - before.sizes.get(t, 0) for t in after.sizes}
    found.storage = sum(growth.values()) / pairs
    found.per_table = {t: grown / pairs for t, grown in growth.items() if grown}
    if server is not None:
        backend_cpu = sum(
            cpu - before.backends.get(pid, 0.0) for pid, cpu in after.backends.items()
        )
        gone = set(before.backends) - set(after.backends)
        found.pg_us = backend_cpu / ops * 1e6
        found.background_us = (after.background - before.background) / ops * 1e6
        found.wal_server = (after.lsn - before.lsn) / ops
        own, images = server.own_wal(before.lsn, after.lsn)
        found.wal_own, found.wal_images = own / ops, images / ops
        found.note = f"{len(after.backends)} backends" + (f", {len(gone)} gone" if gone else "")
    return found


def measure_mode(
    url: str, mode: str, backend: str, args: argparse.Namespace, watch: Server | SqliteFile
) -> Figures:
    catalogs = CatalogSet([parse_catalog(bench.CATALOG, "bench")])
    store: SqlStore | GroupCommitStore = SqlStore(make_engine(url))
    threads = 1
    if mode == "group":
        store, threads = GroupCommitStore(store, max_batch=args.max_batch), args.threads
    billing = Billing(store, catalogs)
    args.label = f"{backend} {mode} warm-up"
    run_pairs(billing, args, args.warmup, threads)
    if backend == "PostgreSQL":
        bench.analyze(url)
    args.label = f"{backend} {mode}"
    before = watch.sample()
    run_pairs(billing, args, args.pairs, threads)
    after = watch.sample()
    found = figures(
        backend, mode, args.pairs, before, after, watch if isinstance(watch, Server) else None
    )
    if isinstance(store, GroupCommitStore):
        found.note = ", ".join(
            filter(None, [found.note, f"{store.units / max(store.batches, 1):.1f} units/commit"])
        )
    billing.close()
    return found


def bench_backend(backend: str, args: argparse.Namespace) -> list[Figures]:
    name = "SQLite" if backend == "sqlite" else "PostgreSQL"
    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_database(backend, Path(folder), "cap") as url,
    ):
        upgrade(url)
        seeder = Billing(
            GroupCommitStore(SqlStore(make_engine(url))),
            CatalogSet([parse_catalog(bench.CATALOG, "bench")]),
        )
        seconds = bench.seed(seeder, args.wallets, args.threads)
        seeder.close()
        print(f"# {name}: seeded {args.wallets:,} wallets in {seconds:.1f} s", file=sys.stderr)
        if backend == "sqlite":
            watch: Server | SqliteFile = SqliteFile(url)
        else:
            watch = Server(sa.make_url(url).database or "")
        try:
            base = watch.compact()
            rows = [measure_mode(url, mode, name, args, watch) for mode in args.modes.split(",")]
            jobs = len(rows) * (args.warmup + args.pairs)
            COMPACT[name] = (watch.compact() - base) / jobs
            return rows
        finally:
            watch.close()


def cell(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def per_core(us: float | None) -> str:
    return "n/a" if not us else f"{1e6 / us:,.0f}"


def report(rows: list[Figures], args: argparse.Namespace, load: tuple[str, str]) -> None:
    print(
        f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.pairs:,} measured pairs per mode after {args.warmup:,} warm-up pairs, "
        f"{args.wallets:,} wallets, group commit with {args.threads} threads; "
        f"load average at start {load[0]}, at end {load[1]}\n"
    )
    print(
        "| backend | mode | ledger ops/s (wall) | Python CPU us/op | service ops/s per core "
        "| PostgreSQL backends CPU us/op | PostgreSQL ops/s per core "
        "| bgwriter+walwriter+checkpointer us/op | WAL bytes/op (server) "
        "| WAL bytes/op (this db's blocks) | of which full-page images "
        "| storage bytes/job | note |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.backend} | {r.mode} | {r.ops_per_s:,.0f} | {r.python_us:,.0f} "
            f"| {per_core(r.python_us)} | {cell(r.pg_us)} | {per_core(r.pg_us)} "
            f"| {cell(r.background_us, 1)} | {cell(r.wal_server)} | {cell(r.wal_own)} "
            f"| {cell(r.wal_images)} "
            f"| {r.storage:,.0f} | {r.note} |"
        )
    print(
        "\nStorage per job after VACUUM FULL (SQLite: VACUUM), live rows only, over all "
        "warm-up and measured jobs: "
        + "; ".join(f"{name} {size:,.0f} bytes" for name, size in COMPACT.items())
    )
    pg = [r for r in rows if r.backend == "PostgreSQL"]
    if pg:
        tables = sorted(
            {t for r in pg for t in r.per_table}, key=lambda t: -pg[0].per_table.get(t, 0)
        )
        print(
            "\n| PostgreSQL table (heap + indexes + TOAST) | "
            + " | ".join(f"bytes/job, {r.mode}" for r in pg)
            + " |"
        )
        print("|---|" + "---|" * len(pg))
        for t in tables:
            print(f"| {t} | " + " | ".join(f"{r.per_table.get(t, 0):,.0f}" for r in pg) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000, metavar="N")
    parser.add_argument("--warmup", type=int, default=300, metavar="N")
    parser.add_argument("--threads", type=int, default=32, metavar="N")
    parser.add_argument("--wallets", type=int, default=1000, metavar="N")
    parser.add_argument("--max-batch", type=int, default=256, metavar="N")
    parser.add_argument("--backends", default="postgresql,sqlite", metavar="LIST")
    parser.add_argument("--modes", default="plain,group", metavar="LIST")
    args = parser.parse_args()
    start = os.getloadavg()
    rows: list[Figures] = []
    for backend in args.backends.split(","):
        if backend not in ("sqlite", "postgresql"):
            parser.error(f"--backends: unknown backend {backend!r}; allowed: postgresql, sqlite")
        rows += bench_backend(backend, args)
    end = os.getloadavg()
    report(rows, args, (" ".join(f"{x:.2f}" for x in start), " ".join(f"{x:.2f}" for x in end)))


if __name__ == "__main__":
    main()
