"""HTTP service throughput and latency on loopback: quotes against a bare FastAPI endpoint
returning a constant (same run, same uvicorn settings, same workers), and submit+complete
pairs on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/http.py [--seconds 5] [--connections 16] [--workers 1 2]
[--backends sqlite postgres]``.  Everything binds and loads 127.0.0.1 only; every run is
bounded in time and connections.  The load generator is a small asyncio HTTP/1.1 keep-alive
client (pre-built request bytes, no HTTP library), so it costs as little CPU as Python
allows; it still shares the machine's cores with the server, which the report states.

``--reads``: wallet reads under a write load (issue 17): ``--connections`` writers run
submit + complete/fail pairs on ten wallets (closed loop) while four readers poll
``GET /v1/wallets/{id}`` of those wallets, each every 20 ms (open loop, 200 reads/s, latency
from the scheduled time); then the same writers alone, so that the cost of the reads to
the writers shows.

Two load shapes:
* closed loop: ``--connections`` connections each send the next request when the last one
  answers, for ``--seconds``: the maximum rate (requests/s) and its p50/p99.
* open loop: requests sent on a fixed schedule at HALF the closed-loop rate of the quote
  route, latency measured from each request's scheduled time (no coordinated omission):
  the p99 a caller sees at a sustainable load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchdb import HOST, fresh_database

CONNECTIONS_MAX = 64
SECONDS_MAX = 60
START_TIMEOUT_S = 60
REPO = Path(__file__).resolve().parent.parent

BARE_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.post("/const")
async def const() -> dict[str, bool]:
    return {"ok": True}
"""

QUOTE_BODY = json.dumps(
    {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 10}}
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def request_bytes(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


# An operation: given a connection, do one unit of work and return whether it succeeded.
Operation = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], "asyncio.Future[bool]"]


def fixed(request: bytes, ok: int = 200) -> Callable[..., object]:
    async def op(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> bool:
        writer.write(request)
        status, _body = await read_response(reader)
        return status == ok

    return op


def submit_complete(key: str, wallets: list[str]) -> Callable[..., object]:
    auth = {"Authorization": f"Bearer {key}"}
    body = json.dumps({"model": "veo3_fast", "catalog": "api-pricing"}).encode()

    async def op(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        wallet = wallets[n % len(wallets)]
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        writer.write(request_bytes("POST", f"/v1/wallets/{wallet}/jobs", body, headers))
        status, answer = await read_response(reader)
        if status != 201:
            return False
        job_id = json.loads(answer)["id"]
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        writer.write(request_bytes("POST", f"/v1/jobs/{job_id}/complete", b"{}", headers))
        status, _ = await read_response(reader)
        return status == 200

    return op


@dataclass
class Result:
    ok: int
    errors: int
    seconds: float
    latencies_s: list[float]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def pct_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def closed_loop(
    port: int, op: Callable[..., object], connections: int, seconds: float
) -> Result:
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "n": 0}
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at:
                counts["n"] += 1
                started = time.perf_counter()
                good = await op(reader, writer, counts["n"])  # type: ignore[operator]
                latencies.append(time.perf_counter() - started)
                counts["ok" if good else "errors"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return Result(counts["ok"], counts["errors"], time.perf_counter() - started, latencies)


async def open_loop(
    port: int, op: Callable[..., object], connections: int, rate: float, seconds: float
) -> Result:
    """Requests at fixed times (rate/s spread over the connections); latency counts from the
    scheduled time, so a stall is charged to every request it delays."""
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}
    interval_s = connections / rate
    begin = time.perf_counter() + 0.05

    async def worker(offset: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            i = 0
            while True:
                due = begin + (offset / connections + i) * interval_s
                if due > begin + seconds:
                    break
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                good = await op(reader, writer, i)  # type: ignore[operator]
                latencies.append(time.perf_counter() - due)
                counts["ok" if good else "errors"] += 1
                i += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(c) for c in range(connections)))
    return Result(counts["ok"], counts["errors"], seconds, latencies)


def wait_ready(port: int, path: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(request_bytes("GET", path, b"", {}))
                if b" 200 " in s.recv(100) or path == "/":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


@contextmanager
def server(
    args: list[str], env: dict[str, str], cwd: Path, ready_path: str
) -> Iterator[tuple[int, Path]]:
    port = free_port()
    out = cwd / f"server-{port}.out"
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [*args, "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(port, ready_path, proc)
        yield port, out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def base_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENCREDITS_", "PROMETHEUS_"))}
    env.update(GENCREDITS_DATABASE_URL=database_url, GENCREDITS_SWEEP_INTERVAL_S="0")
    return env


def admin_key(out: Path) -> str:
    for line in out.read_text().splitlines():
        if line.startswith("GENCREDITS_API_KEY="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError("no admin key printed")


def gencredits_serve(workers: int) -> list[str]:
    return [sys.executable, "-m", "gencredits.cli", "serve", "--workers", str(workers)]


def bare_serve(workers: int, app_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(app_dir),
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        "--host", HOST,
    ]  # fmt: skip


@contextmanager
def served(backend: str, workers: int, work: Path, name: str) -> Iterator[tuple[int, str]]:
    """``gencredits serve`` with ``workers`` on an empty database: its port and admin key."""
    with fresh_database(backend, work, f"{name}-{workers}") as url:
        serve = [*gencredits_serve(workers), "--host", HOST]
        with server(serve, base_env(url), work, "/healthz") as (port, out):
            yield port, admin_key(out)


def row(name: str, workers: int, r: Result, note: str = "") -> str:
    return (
        f"| {name} | {workers} | {r.rate:,.0f} | {r.pct_ms(0.50):.2f} | {r.pct_ms(0.99):.2f} "
        f"| {r.errors} | {note} |"
    )


def interleaved(
    port_a: int,
    op_a: Callable[..., object],
    port_b: int,
    op_b: Callable[..., object],
    args: argparse.Namespace,
) -> tuple[Result, Result]:
    """A and B in alternating rounds (ABABAB...), so that load from anything else on the
    machine falls on both alike; each result pools its rounds."""
    rounds = max(1, args.rounds)
    seconds = args.seconds / rounds
    runs: dict[str, list[Result]] = {"a": [], "b": []}
    for _ in range(rounds):
        runs["a"].append(asyncio.run(closed_loop(port_a, op_a, args.connections, seconds)))
        runs["b"].append(asyncio.run(closed_loop(port_b, op_b, args.connections, seconds)))

    def pool(results: list[Result]) -> Result:
        return Result(
            sum(r.ok for r in results),
            sum(r.errors for r in results),
            sum(r.seconds for r in results),
            [x for r in results for x in r.latencies_s],
        )

    return pool(runs["a"]), pool(runs["b"])


def bench_quotes(args: argparse.Namespace, work: Path) -> list[str]:
    rows = []
    (work / "bare_app.py").write_text(BARE_APP)
    for workers in args.workers:
        env = base_env(f"sqlite:///{work / f'quotes-{workers}.db'}")
        serve = [*gencredits_serve(workers), "--host", HOST]
        with (
            server(bare_serve(workers, work), env, work, "/") as (bare_port, _),
            server(serve, env, work, "/healthz") as (port, out),
        ):
            key = admin_key(out)
            bare_op = fixed(request_bytes("POST", "/const", b"", {}))
            quote_req = request_bytes(
                "POST", "/v1/quotes", QUOTE_BODY, {"Authorization": f"Bearer {key}"}
            )
            op = fixed(quote_req)
            for p, o in ((bare_port, bare_op), (port, op)):  # warm-up
                asyncio.run(closed_loop(p, o, args.connections, 1))
            bare, quotes = interleaved(bare_port, bare_op, port, op, args)
            half = asyncio.run(open_loop(port, op, args.connections, quotes.rate / 2, args.seconds))
        share = 100 * quotes.rate / bare.rate
        rows.append(row("bare FastAPI constant (closed loop)", workers, bare))
        rows.append(row("POST /v1/quotes (closed loop)", workers, quotes, f"{share:.0f}% of bare"))
        rows.append(
            row(
                f"POST /v1/quotes at half rate ({quotes.rate / 2:,.0f}/s, open loop)",
                workers,
                half,
                "p99 from scheduled send time",
            )
        )
        print("\n".join(rows[-3:]), flush=True)
    return rows


def bench_billing(args: argparse.Namespace, work: Path, backend: str) -> list[str]:
    rows = []
    for workers in args.workers:
        with served(backend, workers, work, "billing") as (port, key):
            wallets = [f"bench-{i}" for i in range(100)]
            setup(port, key, wallets)
            op = submit_complete(key, wallets)
            result = asyncio.run(closed_loop(port, op, args.connections, args.seconds))
        rows.append(
            row(f"submit+complete pairs, {backend} (closed loop)", workers, result,
                "latency = both calls")
        )  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def submit_settle(key: str, wallets: list[str]) -> Callable[..., object]:
    """A submit, then a complete (even n) or a fail (odd n): held credits go both ways."""
    auth = {"Authorization": f"Bearer {key}"}
    body = json.dumps({"model": "veo3_fast", "catalog": "api-pricing"}).encode()

    async def op(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        path = f"/v1/wallets/{wallets[n % len(wallets)]}/jobs"
        writer.write(request_bytes("POST", path, body, headers))
        status, answer = await read_response(reader)
        if status != 201:
            return False
        job_id = json.loads(answer)["id"]
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        settle = "complete" if n % 2 == 0 else "fail"
        writer.write(request_bytes("POST", f"/v1/jobs/{job_id}/{settle}", b"{}", headers))
        status, _ = await read_response(reader)
        return status == 200

    return op


def wallet_get(key: str, wallets: list[str]) -> Callable[..., object]:
    auth = {"Authorization": f"Bearer {key}"}
    requests = [request_bytes("GET", f"/v1/wallets/{w}", b"", auth) for w in wallets]

    async def op(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(requests[n % len(requests)])
        status, _ = await read_response(reader)
        return status == 200

    return op


READERS = 4
READ_RATE = 200.0  # reads/s over the READERS connections: each polls every 20 ms


async def beside(
    port: int,
    write_op: Callable[..., object],
    read_op: Callable[..., object],
    connections: int,
    seconds: float,
) -> tuple[Result, Result]:
    """Writers (closed loop) and readers (open loop) at once, for ``seconds``."""
    writes = closed_loop(port, write_op, connections, seconds)
    reads = open_loop(port, read_op, READERS, READ_RATE, seconds)
    done = await asyncio.gather(writes, reads)
    return done[0], done[1]


def bench_reads(args: argparse.Namespace, work: Path, backend: str) -> list[str]:
    """Wallet GET p50/p99 while writers move credits, then the writers alone."""
    rows = []
    for workers in args.workers:
        with served(backend, workers, work, "reads") as (port, key):
            wallets = [f"reads-{i}" for i in range(10)]
            setup(port, key, wallets)
            write_op, read_op = submit_settle(key, wallets), wallet_get(key, wallets)
            asyncio.run(closed_loop(port, write_op, args.connections, 1))  # warm-up
            writes, reads = asyncio.run(
                beside(port, write_op, read_op, args.connections, args.seconds)
            )
            alone = asyncio.run(closed_loop(port, write_op, args.connections, args.seconds))
        rows.append(
            row(f"GET /v1/wallets/{{id}}, {backend}, under writes (open loop)", workers,
                reads, f"{READ_RATE:g}/s scheduled on {READERS} connections")
        )  # fmt: skip
        rows.append(
            row(f"submit+complete/fail pairs, {backend}, beside the reads", workers, writes,
                "latency = both calls")
        )  # fmt: skip
        rows.append(
            row(f"submit+complete/fail pairs, {backend}, alone", workers, alone,
                "latency = both calls")
        )  # fmt: skip
        print("\n".join(rows[-3:]), flush=True)
    return rows


def setup(port: int, key: str, wallets: list[str]) -> None:
    async def run() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        auth = {"Authorization": f"Bearer {key}"}
        for w in wallets:
            body = json.dumps({"id": w}).encode()
            writer.write(request_bytes("POST", "/v1/wallets", body, auth))
            await read_response(reader)
            grant = json.dumps({"amount": 10**12, "kind": "purchase"}).encode()
            writer.write(
                request_bytes(
                    "POST", f"/v1/wallets/{w}/grants", grant, {**auth, "Idempotency-Key": w}
                )
            )
            status, answer = await read_response(reader)
            assert status == 201, answer
        writer.close()

    asyncio.run(run())


def bench_asgi(args: argparse.Namespace, work: Path) -> list[str]:
    """Per-request CPU inside the process, with no sockets and no load generator: both
    apps called as ASGI callables in one loop, interleaved (the cost the server pays)."""
    sys.path.insert(0, str(work))
    (work / "bare_app.py").write_text(BARE_APP)
    import bare_app

    from gencredits.api import create_app
    from gencredits.api.keys import KeyStore
    from gencredits.config import load_settings
    from gencredits.storage.sql import engine as db

    url = f"sqlite:///{work / 'asgi.db'}"
    db.upgrade(url)
    app = create_app(load_settings(database_url=url, sweep_interval_s=0))
    key = KeyStore(app.state.services.engine).create("bench", ["read"])[1]

    def scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, object]:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": (HOST, 1), "server": (HOST, 80), "state": {},
        }  # fmt: skip

    async def run(target: object, path: str, body: bytes, headers: list[tuple[bytes, bytes]],
                  n: int) -> float:  # fmt: skip
        statuses: list[int] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))  # type: ignore[call-overload]

        started = time.perf_counter()
        for _ in range(n):
            await target(scope(path, headers), receive, send)  # type: ignore[operator]
        elapsed = time.perf_counter() - started
        assert set(statuses) == {200}, statuses[:3]
        return elapsed / n

    headers = [
        (b"authorization", b"Bearer " + key.encode()),
        (b"content-type", b"application/json"),
    ]
    n = 2000
    bare_s: list[float] = []
    quote_s: list[float] = []
    for _ in range(max(1, args.rounds)):
        bare_s.append(asyncio.run(run(bare_app.app, "/const", b"", [], n)))
        quote_s.append(asyncio.run(run(app, "/v1/quotes", QUOTE_BODY, headers, n)))
    bare_us, quote_us = 1e6 * min(bare_s), 1e6 * min(quote_s)
    line = (
        f"ASGI cost per request, in-process (best of {len(bare_s)} x {n}): bare constant "
        f"{bare_us:.1f} us, POST /v1/quotes {quote_us:.1f} us "
        f"(quote = {100 * bare_us / quote_us:.0f}% of bare's rate)"
    )
    print(line, flush=True)
    return [line]


def bench_direct(args: argparse.Namespace, work: Path) -> list[str]:
    """The same submit+complete pairs on ``Billing`` called in-process, no HTTP: what the
    ledger itself allows, beside which the service's figures are read."""
    from concurrent.futures import ThreadPoolExecutor

    from gencredits.billing import Billing

    lines = []
    for backend in args.backends:
        with fresh_database(backend, work, "direct") as url:
            billing = Billing.from_url(url)
            wallets = [f"direct-{i}" for i in range(100)]
            for w in wallets:
                billing.create_wallet(w)
                billing.grant(w, 10**12, kind="purchase", idempotency_key=w)

            def pair(n: int, billing: Billing = billing, wallets: list[str] = wallets) -> None:
                job = billing.submit(
                    wallets[n % len(wallets)],
                    "veo3_fast",
                    catalog="api-pricing",
                    idempotency_key=uuid.uuid4().hex,
                )
                billing.complete(job.id, idempotency_key=uuid.uuid4().hex)  # fmt: skip

            for threads in (1, args.connections):
                stop_at = time.perf_counter() + args.seconds / 2
                done = [0]

                def loop(
                    t: int, stop_at: float = stop_at, done: list[int] = done, step: int = threads
                ) -> None:
                    n = t
                    while time.perf_counter() < stop_at:
                        pair(n)
                        n += step
                        done[0] += 1

                started = time.perf_counter()
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(loop, range(threads)))
                rate = done[0] / (time.perf_counter() - started)
                lines.append(
                    f"Billing in-process, {backend}, {threads} thread(s): {rate:,.0f} pairs/s"
                )
                print(lines[-1], flush=True)
            billing.close()
    return lines


def main() -> None:
    # Run as a script, this file's folder is sys.path[0], and this file (http.py) would
    # shadow the standard library's http package for what main() imports (FastAPI...).
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="bare/quote alternations")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgres"])
    parser.add_argument("--skip-quotes", action="store_true")
    parser.add_argument("--asgi", action="store_true", help="only the in-process ASGI cost")
    parser.add_argument(
        "--direct", action="store_true", help="only submit+complete on Billing in-process"
    )
    parser.add_argument("--reads", action="store_true", help="only wallet reads under a write load")
    args = parser.parse_args()
    args.seconds = min(max(args.seconds, 1.0), SECONDS_MAX)
    args.connections = min(max(args.connections, 1), CONNECTIONS_MAX)
    try:
        import uvloop

        uvloop.install()  # the load generator's own loop: cheaper per request
    except ImportError:
        pass
    print(
        f"# {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.connections} connections, {args.seconds:g} s per measurement "
        f"(bare and quotes interleaved in {args.rounds} rounds)",
        flush=True,
    )
    print("| what | workers | requests/s | p50 ms | p99 ms | errors | note |")
    print("|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="gencredits-bench-") as tmp:
        work = Path(tmp)
        if args.asgi:
            bench_asgi(args, work)
            return
        if args.direct:
            bench_direct(args, work)
            return
        if args.reads:
            for backend in args.backends:
                bench_reads(args, work, backend)
            return
        if not args.skip_quotes:
            bench_quotes(args, work)
        for backend in args.backends:
            bench_billing(args, work, backend)


if __name__ == "__main__":
    main()
