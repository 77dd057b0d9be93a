"""The real NATS JetStream server for the relay's tests: a stream of its own per test
(unique name and subjects), deleted after it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import pytest
from tests.pg import ci

NATS_URL = os.environ.get("GENCREDITS_TEST_NATS_URL", "nats://127.0.0.1:4222")


@dataclass(frozen=True)
class Stream:
    url: str
    name: str
    subject: str

    def messages(self) -> list[Any]:
        """Every message in the stream, in stream order (raw: subject, headers, data)."""
        return asyncio.run(_messages(self))

    def count(self) -> int:
        return asyncio.run(_count(self))


async def _messages(stream: Stream) -> list[Any]:
    nc = await nats.connect(stream.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream.name)
        first, last = info.state.first_seq, info.state.last_seq
        return (
            [await js.get_msg(stream.name, seq) for seq in range(first, last + 1)]
            if (info.state.messages)
            else []
        )
    finally:
        await nc.close()


async def _count(stream: Stream) -> int:
    nc = await nats.connect(stream.url)
    try:
        try:
            info = await nc.jetstream().stream_info(stream.name)
        except nats.js.errors.NotFoundError:
            return 0
        return int(info.state.messages)
    finally:
        await nc.close()


async def _delete(stream: Stream) -> None:
    nc = await nats.connect(stream.url)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream.name)
    finally:
        await nc.close()


async def _reachable(url: str) -> str | None:
    try:
        nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        return repr(exc)
    try:
        await nc.jetstream().account_info()
    except nats.errors.Error as exc:
        return f"no JetStream: {exc!r}"
    finally:
        await nc.close()
    return None


@pytest.fixture
def stream() -> Iterator[Stream]:
    """A stream name and subject prefix no other test uses; the stream is deleted after."""
    problem = asyncio.run(_reachable(NATS_URL))
    if problem is not None:
        message = f"NATS JetStream unreachable at {NATS_URL}: {problem}"
        if ci():
            pytest.fail(message + " (CI=true: a failure, not a skip)")
        pytest.skip(message)
    token = uuid.uuid4().hex[:12]
    made = Stream(NATS_URL, f"GCT_{token}", f"gct{token}.events")
    yield made
    asyncio.run(_delete(made))
