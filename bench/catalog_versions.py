"""What versioned catalogs cost the quote path: the HTTP quote route's pricing call
(``price_quote``: body parse, model lookup, quote) on the bundled catalogs as loaded, and on
:class:`VersionedCatalogs` (the versions active now, read from the database on cache expiry
only) over a SQLite file, alternating in rounds so background load falls on both alike.

Run: ``.venv/bin/python -P bench/catalog_versions.py [--seconds S] [--rounds N]`` (``-P``:
bench/http.py would shadow the standard library's ``http``).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable

from gencredits.api.routes.catalog import price_quote
from gencredits.billing.catalog_versions import VersionedCatalogs
from gencredits.clock import SystemClock
from gencredits.pricing import CatalogSet
from gencredits.storage.sql.catalog_versions import SqlCatalogVersions
from gencredits.storage.sql.engine import make_engine, upgrade

BODIES = [
    json.dumps(b).encode()
    for b in (
        {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 10}},
        {
            "model": "Veo 3.1",
            "catalog": "creative-suite",
            "params": {"duration": 8},
            "generations": 3,
        },
        {"model": "nano-banana-2", "catalog": "api-pricing", "params": {"resolution": "4K"}},
    )
]


def rate(catalogs: CatalogSet, seconds: float) -> float:
    done, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for body in BODIES:
            price_quote(catalogs, body)
        done += len(BODIES)
    return done / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp()}/versions.db"
    upgrade(url)
    engine = make_engine(url)
    plain = CatalogSet.bundled()
    versioned = VersionedCatalogs(plain, SqlCatalogVersions(engine), SystemClock(), refresh_s=2)
    runs: dict[str, list[float]] = {"bundled": [], "versioned": []}
    sides: dict[str, Callable[[], float]] = {
        "bundled": lambda: rate(plain, args.seconds),
        "versioned": lambda: rate(versioned, args.seconds),
    }
    rate(versioned, 0.2)  # seeds and warms
    for _ in range(args.rounds):
        for name, run in sides.items():
            runs[name].append(run())
    print(f"machine: {platform.machine()} {platform.python_version()}")
    for name, figures in runs.items():
        best = max(figures)
        print(f"{name}: best {best:,.0f} quotes/s, {1e6 / best:.1f} us a quote")
    ratio = max(runs["versioned"]) / max(runs["bundled"])
    print(f"versioned_over_bundled={ratio:.3f}")


if __name__ == "__main__":
    main()
