"""Quotes per second, in-process, on one core, over a mix of every bundled catalog.

The mix holds, for every model, mode and route of every bundled catalog, a request at
the defaults, one at the longest duration and highest resolution with every switch on,
and one with several generations.  Run: ``.venv/bin/python bench/quote.py [--seconds S]``.
The last line is ``quotes_per_s=N``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from gencredits.errors import GencreditsError
from gencredits.pricing import CatalogSet, quote
from gencredits.pricing.catalog import Catalog
from gencredits.pricing.schema import BOOL_PARAMS, COUNT_PARAMS

Request = tuple[Catalog, str, dict[str, object], int]


def build_mix() -> list[Request]:
    mix: list[Request] = []
    for cat in CatalogSet.bundled().values():
        for m in cat:
            for mode, compiled in m.modes.items():
                a = compiled.accepts
                for route in m.routes:
                    base: dict[str, object] = {"mode": mode, "route": route}
                    full = dict(base)
                    if a.durations:
                        full["duration"] = a.durations[-1]
                    if a.resolutions:
                        full["resolution"] = a.resolutions[-1]
                    for p in BOOL_PARAMS:
                        if p in a.switches:
                            full[p] = True
                    for p in COUNT_PARAMS:
                        if p in a.counts:
                            full[p] = a.counts[p][1]
                    for params, gens in ((base, 1), (full, 1), (base, min(3, a.generations_max))):
                        try:
                            quote(cat, m.id, params, gens)
                        except GencreditsError:
                            continue  # a sparse matrix may not price the corner
                        mix.append((cat, m.name, params, gens))
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure")
    args = parser.parse_args()
    mix = build_mix()
    catalogs = len(CatalogSet.bundled())
    print(f"mix: {len(mix)} distinct requests over {catalogs} catalogs")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for cat, model, params, gens in mix[:200]:  # warm up
        quote(cat, model, params, gens)
    done = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    while time.perf_counter() < deadline:
        for cat, model, params, gens in mix:
            quote(cat, model, params, gens)
        done += len(mix)
    elapsed = time.perf_counter() - start
    print(f"{done} quotes in {elapsed:.2f} s, {elapsed / done * 1e6:.2f} us per quote")
    print(f"quotes_per_s={int(done / elapsed)}")


if __name__ == "__main__":
    main()
