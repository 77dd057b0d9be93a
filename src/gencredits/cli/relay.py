"""``gencredits relay``: publish the outbox to NATS JetStream (see :mod:`gencredits.relay`).

Reads the ledger's database directly (``--database-url``), never the HTTP service.  Without
``--once`` it runs until stopped (Ctrl-C, SIGTERM), printing its progress; with ``--once``
it publishes what is pending and exits.  Safe to run several at once, and beside
``gencredits serve --relay``: they share one cursor, moved by compare-and-set, and the
stream drops repeats by message id.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from gencredits.cli._app import JsonOpt, app, console, print_json
from gencredits.cli._connection import connection, database_errors
from gencredits.errors import InvalidRequest
from gencredits.ledger.store import open_store
from gencredits.relay.jetstream import JetStreamTarget
from gencredits.relay.loop import Relay, RelayProgress, Target
from gencredits.relay.redis_streams import RedisStreamTarget

NatsOpt = Annotated[
    str | None,
    typer.Option("--nats", metavar="URL", help="The NATS server, e.g. nats://127.0.0.1:4222."),
]
RedisOpt = Annotated[
    str | None,
    typer.Option(
        "--redis", metavar="URL", help="Or a Redis server (redis://127.0.0.1:6379): a stream."
    ),
]
KeyOpt = Annotated[
    str, typer.Option("--key", metavar="KEY", help="With --redis: the stream's key.")
]
StreamOpt = Annotated[
    str,
    typer.Option("--stream", metavar="NAME", help="JetStream stream (made if missing)."),
]
SubjectOpt = Annotated[
    str,
    typer.Option(
        "--subject", metavar="PREFIX", help="Subject prefix; each event goes to PREFIX.<wallet>."
    ),
]
BatchOpt = Annotated[
    int,
    typer.Option("--batch", metavar="N", min=1, max=1000, help="Events per batch (1-1000)."),
]
WindowOpt = Annotated[
    int,
    typer.Option(
        "--duplicate-window",
        metavar="SECONDS",
        min=1,
        max=86_400,
        help="A new stream's duplicate window: repeats within it are dropped.",
    ),
]
OnceOpt = Annotated[
    bool,
    typer.Option("--once", help="Publish what is pending, then exit (else run until stopped)."),
]


def _report(progress: RelayProgress) -> dict[str, object]:
    return {
        "published": progress.published,
        "batches": progress.batches,
        "failures": progress.failures,
        "cursor": progress.cursor,
    }


async def _run(relay: Relay, once: bool, quiet: bool) -> None:
    try:
        if once:
            await relay.drain()
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def show(p: RelayProgress) -> None:
            if not quiet:
                console.print(f"published {p.published} events (cursor {p.cursor})")

        await relay.run(stop, on_progress=show)
    finally:
        await relay.target.close()


@app.command("relay")
def relay(
    ctx: typer.Context,
    nats: NatsOpt = None,
    redis: RedisOpt = None,
    key: KeyOpt = "gencredits:events",
    stream: StreamOpt = "GENCREDITS",
    subject: SubjectOpt = "gencredits.events",
    batch: BatchOpt = 200,
    duplicate_window: WindowOpt = 120,
    once: OnceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish the outbox to NATS JetStream (or a Redis stream), each event once by its id
    (see docs/relay.md)."""
    database_url = connection(ctx).database_url
    target: Target
    if (nats is None) == (redis is None):
        raise InvalidRequest.for_field(
            "--nats/--redis", nats or redis, "exactly one of them: the broker to publish to"
        )
    if nats is not None:
        target = JetStreamTarget(
            nats, stream=stream, subject=subject, duplicate_window_s=duplicate_window
        )
    else:
        assert redis is not None
        target = RedisStreamTarget(redis, key=key, duplicate_window_s=duplicate_window)
    with database_errors(database_url):
        store = open_store(database_url)
    connection(ctx).on_close(store.close)
    worker = Relay(store, target, batch=batch)
    asyncio.run(_run(worker, once, as_json))
    report = _report(worker.progress)
    if as_json:
        print_json(report)
    else:
        console.print(
            f"published {report['published']} events in {report['batches']} batches "
            f"({report['failures']} failed attempts); cursor {report['cursor']}",
            highlight=False,
        )


ForgetOpt = Annotated[
    str | None,
    typer.Option(
        "--forget",
        metavar="NAME",
        help="Remove this cursor (a relay or deliverer taken out of service), so that outbox "
        "retention stops waiting for it.",
    ),
]


@app.command("cursors")
def cursors(ctx: typer.Context, forget: ForgetOpt = None, as_json: JsonOpt = False) -> None:
    """The outbox's consumers (the webhook deliverer, each relay) and how far each has read;
    outbox retention deletes only what every one of them has passed (docs/ledger.md)."""
    database_url = connection(ctx).database_url
    with database_errors(database_url):
        store = open_store(database_url)
    connection(ctx).on_close(store.close)
    outbound = store.outbound()
    found = outbound.cursors()
    if forget is not None:
        if forget not in found:
            allowed = ", ".join(sorted(found)) or "none: no consumer has read the outbox yet"
            raise InvalidRequest.for_field("--forget", forget, f"a cursor's name ({allowed})")
        outbound.forget_cursor(forget)
        found = outbound.cursors()
    rows = [{"name": name, "position": found[name]} for name in sorted(found)]
    if as_json:
        print_json({"cursors": rows, "forgotten": forget})
        return
    if forget is not None:
        console.print(f"forgot cursor {forget}", highlight=False)
    if not rows:
        console.print("no cursors: nothing has read the outbox yet", highlight=False)
    for row in rows:
        console.print(f"{row['name']}: {row['position'] or '(none yet)'}", highlight=False)
