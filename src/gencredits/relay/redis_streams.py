"""The relay's Redis Streams target: each event an entry of one stream (``XADD``), dropped
when its stable id was added within the duplicate window.

Redis Streams keep no message ids of their own, so each entry is added by a small script,
atomic on the server: it marks the event's id as seen (``SET NX`` with the window as its
expiry) and adds the entry only if the id was new.  A relay that publishes a batch again
after a crash thus adds nothing twice within the window.  A batch's scripts go in one
pipeline; its replies are the acknowledgements.

Fields of an entry: ``id`` (the event's stable id, its outbox cursor), ``wallet``,
``version`` (the wallet's version), ``type`` and ``event`` (the event's JSON).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson
import redis.asyncio as aioredis
import redis.exceptions

from gencredits.errors import InvalidSetting
from gencredits.ledger.model import Event
from gencredits.relay.loop import BrokerError

__all__ = ["RedisStreamTarget"]

_KEY = re.compile(r"[A-Za-z0-9_:.-]{1,32}")

# KEYS: the stream, the seen-id key; ARGV: the event's id, window (s), wallet, version, type,
# the event's JSON.  Answers the entry's id, or false when the id was seen.
_ADD_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'wallet', ARGV[3],
                    'version', ARGV[4], 'type', ARGV[5], 'event', ARGV[6])
end
return false
"""


class RedisStreamTarget:
    """Publishes to the Redis stream ``key`` at ``url`` (see the module)."""

    def __init__(
        self,
        url: str,
        *,
        key: str = "gencredits:events",
        duplicate_window_s: int = 120,
        timeout_s: int = 5,
    ) -> None:
        if not _KEY.fullmatch(key):
            raise InvalidSetting.for_field(
                "key", key, "1 to 32 letters, digits, '_', ':', '.' or '-'"
            )
        if not 1 <= duplicate_window_s <= 86_400:
            raise InvalidSetting.for_field(
                "duplicate_window_s", duplicate_window_s, "1 to 86,400 seconds"
            )
        self.url = url
        self.key = key
        self.duplicate_window_s = duplicate_window_s
        self.cursor_name = f"redis:{key}"
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._script = self._client.register_script(_ADD_ONCE)

    async def publish(self, events: Sequence[Event]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for event in events:
                    keys = [self.key, f"{self.key}:seen:{event.cursor}"]
                    args: list[bytes | str | int] = [
                        event.cursor,
                        self.duplicate_window_s,
                        event.wallet_id,
                        event.wallet_version or "",
                        event.type,
                        orjson.dumps(event.to_dict()),
                    ]
                    await self._script(keys=keys, args=args, client=pipe)
                await pipe.execute()
        except (OSError, TimeoutError, redis.exceptions.RedisError) as exc:
            raise BrokerError(f"Redis stream {self.key}: not added ({exc!r})") from exc

    async def close(self) -> None:
        await self._client.aclose()
