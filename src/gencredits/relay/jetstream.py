"""The relay's NATS JetStream target: each event a message on ``SUBJECT.<wallet>`` in a
stream, with ``Nats-Msg-Id`` its stable id, so the stream drops a repeat within its
duplicate window.

The stream is made on first use if it does not exist (subjects ``SUBJECT.>``, the
duplicate window given, file storage); an existing stream is used as it is.  Messages of a
batch are sent in order without waiting for each other (``publish_async``), then every
acknowledgement is awaited, up to a timeout: anything short of an acknowledgement from the
stream for every message is a :class:`~gencredits.relay.loop.BrokerError`, after which the
connection is dropped and made again for the next attempt.

A message's body is the event's JSON (as ``Billing.events()`` and the webhooks give it,
with ``cursor``, ``wallet_version`` and ``version_seq``); its headers repeat the wallet, its
version and the event type, for consumers that filter without parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence

import nats
import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.js.api import PubAck, StorageType, StreamConfig
from nats.js.client import JetStreamContext

from gencredits.errors import InvalidSetting
from gencredits.ledger.model import Event
from gencredits.relay.loop import BrokerError

__all__ = ["JetStreamTarget", "subject_token"]

_STREAM = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}")
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def subject_token(wallet_id: str) -> str:
    """The wallet id as one subject token: letters, digits, ``_`` and ``-`` as they are,
    any other character as ``~`` and its code in hex (``~2e`` for ``.``; ``~7e`` for ``~``)."""
    return "".join(ch if ch in _SAFE else f"~{ord(ch):x}" for ch in wallet_id)


async def _quiet(_error: Exception) -> None:
    """The client's error callback: its errors reach us as exceptions already."""


class JetStreamTarget:
    """Publishes to the JetStream ``stream`` at ``url`` (see the module)."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = "GENCREDITS",
        subject: str = "gencredits.events",
        duplicate_window_s: int = 120,
        timeout_s: int = 5,
    ) -> None:
        if not _STREAM.fullmatch(stream):
            raise InvalidSetting.for_field("stream", stream, "1 to 32 letters, digits, '_' or '-'")
        if not _SUBJECT.fullmatch(subject):
            raise InvalidSetting.for_field(
                "subject", subject, "up to 8 dot-separated tokens of letters, digits, '_' or '-'"
            )
        if not 1 <= duplicate_window_s <= 86_400:
            raise InvalidSetting.for_field(
                "duplicate_window_s", duplicate_window_s, "1 to 86,400 seconds"
            )
        self.url = url
        self.stream = stream
        self.subject = subject
        self.duplicate_window_s = duplicate_window_s
        self.timeout_s = timeout_s
        self.cursor_name = f"nats:{stream}"
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    async def _context(self) -> JetStreamContext:
        if self._js is not None and self._nc is not None and self._nc.is_connected:
            return self._js
        await self.close()
        try:
            connecting = nats.connect(
                self.url,
                connect_timeout=self.timeout_s,
                allow_reconnect=False,
                max_reconnect_attempts=1,  # 0 would try the first connection forever
                reconnect_time_wait=0,
                error_cb=_quiet,  # failures are raised (and logged by the relay) instead
            )
            nc = await asyncio.wait_for(connecting, self.timeout_s * 2)
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            raise BrokerError(f"NATS at {self.url}: cannot connect ({exc!r})") from exc
        self._nc, self._js = nc, nc.jetstream(timeout=self.timeout_s)
        try:
            await self._js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            config = StreamConfig(
                name=self.stream,
                subjects=[f"{self.subject}.>"],
                duplicate_window=self.duplicate_window_s,
                storage=StorageType.FILE,
            )
            try:
                await self._js.add_stream(config)
            except (TimeoutError, nats.errors.Error) as exc:
                await self.close()
                raise BrokerError(f"NATS stream {self.stream}: cannot make it ({exc!r})") from exc
        except (TimeoutError, nats.errors.Error) as exc:
            await self.close()
            raise BrokerError(f"NATS at {self.url}: no JetStream answer ({exc!r})") from exc
        return self._js

    def message(self, event: Event) -> tuple[str, bytes, dict[str, str]]:
        """(subject, body, headers) of the event's message."""
        headers = {
            "Nats-Msg-Id": event.cursor,
            "Gencredits-Wallet": event.wallet_id,
            "Gencredits-Wallet-Version": str(event.wallet_version or ""),
            "Gencredits-Type": event.type,
        }
        subject = f"{self.subject}.{subject_token(event.wallet_id)}"
        return subject, orjson.dumps(event.to_dict()), headers

    async def publish(self, events: Sequence[Event]) -> None:
        js = await self._context()
        futures: list[asyncio.Future[PubAck]] = []
        try:
            for event in events:
                subject, body, headers = self.message(event)
                futures.append(
                    await js.publish_async(
                        subject,
                        body,
                        wait_stall=self.timeout_s,
                        stream=self.stream,
                        headers=headers,
                    )
                )
            await asyncio.wait_for(asyncio.gather(*futures), self.timeout_s)
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            for future in futures:
                future.cancel()
            await self.close()
            raise BrokerError(f"NATS stream {self.stream}: not acknowledged ({exc!r})") from exc

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(OSError, TimeoutError, nats.errors.Error):
                await nc.close()
