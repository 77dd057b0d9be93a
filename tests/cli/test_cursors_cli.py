"""``gencredits cursors``: the outbox's consumers, and forgetting one taken out of service so
that outbox retention stops waiting for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from gencredits.billing import Billing
from gencredits.cli import app
from gencredits.errors import InvalidRequest
from gencredits.ledger.store import open_store

FAR = datetime(2100, 1, 1, tzinfo=UTC)


def test_a_retired_consumer_is_forgotten_and_retention_goes_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cursors.db"
    billing = Billing.from_url(url)
    for n in range(4):
        billing.create_wallet(f"w{n}")
    billing.close()
    store = open_store(url)
    try:
        outbound = store.outbound()
        with store.reader() as reader:
            events = reader.events(after=None, limit=100)
        assert len(events) == 4
        assert outbound.move_cursor("nats:OLD", None, events[0].cursor)  # retired, far behind
        assert outbound.move_cursor("nats:LIVE", None, events[-1].cursor)
        # only what every cursor has passed may go: the retired relay holds the rest back
        assert store.forget_events(FAR, limit=100) == 1

        runner = CliRunner()
        base = ["--database-url", url, "cursors"]
        listed = runner.invoke(app, [*base, "--json"])
        assert listed.exit_code == 0, listed.output
        assert json.loads(listed.stdout)["cursors"] == [
            {"name": "nats:LIVE", "position": events[-1].cursor},
            {"name": "nats:OLD", "position": events[0].cursor},
        ]

        unknown = runner.invoke(app, [*base, "--forget", "nats:NOPE"])
        assert isinstance(unknown.exception, InvalidRequest)  # the CLI's main: exit 2
        message = str(unknown.exception)
        assert "--forget" in message and "nats:NOPE" in message and "nats:OLD" in message
        assert set(outbound.cursors()) == {"nats:LIVE", "nats:OLD"}  # nothing changed

        gone = runner.invoke(app, [*base, "--forget", "nats:OLD", "--json"])
        assert gone.exit_code == 0, gone.output
        answer = json.loads(gone.stdout)
        assert answer["forgotten"] == "nats:OLD"
        assert [c["name"] for c in answer["cursors"]] == ["nats:LIVE"]
        # the events the retired relay held back go now (all but the newest, always kept)
        assert store.forget_events(FAR, limit=100) == 2
    finally:
        store.close()
