"""CPU of one submit+complete pair on the memory store: what the billing layer itself costs.

``Billing`` in-process on :class:`~gencredits.ledger.memory.MemoryStore` (no database, no
HTTP), one thread: ``submit`` (quote + hold) then ``complete`` (capture) on one of 100
wallets, a fresh idempotency key each.  Best of ``--rounds`` loops of ``--pairs`` pairs,
in microseconds a pair (timeit-style: the best round is the least disturbed), as CPU time
of the thread (``time.thread_time``: what other work on a shared machine disturbs least)
and as wall time.

    .venv/bin/python bench/pair_cpu.py --pairs 3000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from gencredits.billing import Billing
from gencredits.ledger.memory import MemoryStore


def one_round(billing: Billing, wallets: list[str], pairs: int, start: int) -> tuple[float, float]:
    """(CPU, wall) microseconds a pair."""
    began, began_cpu = time.perf_counter(), time.thread_time()
    for n in range(start, start + pairs):
        job = billing.submit(
            wallets[n % len(wallets)], "veo3_fast", catalog="api-pricing", idempotency_key=f"s{n}"
        )
        billing.complete(job.id, idempotency_key=f"c{n}")
    cpu = time.thread_time() - began_cpu
    return cpu / pairs * 1e6, (time.perf_counter() - began) / pairs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    billing = Billing(MemoryStore())
    wallets = [f"cpu-{i}" for i in range(100)]
    for w in wallets:
        billing.create_wallet(w)
        billing.grant(w, 10**12, kind="purchase", idempotency_key=w)
    one_round(billing, wallets, 300, 0)  # warm-up
    found = [
        one_round(billing, wallets, args.pairs, (r + 1) * args.pairs) for r in range(args.rounds)
    ]
    cpu, wall = sorted(c for c, _ in found), sorted(w for _, w in found)
    print(
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.rounds} rounds of {args.pairs} pairs: CPU best {cpu[0]:.0f} us a pair, "
        f"median {cpu[len(cpu) // 2]:.0f}; wall best {wall[0]:.0f}, "
        f"median {wall[len(wall) // 2]:.0f}"
    )


if __name__ == "__main__":
    main()
