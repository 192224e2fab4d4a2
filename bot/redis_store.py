"""The store in Redis, for several bot processes behind one load balancer (``STORAGE_URL``).

Everything that is per user or per update lives here, so any replica can handle any update:

* ``<prefix>lang`` a hash ``user id -> language`` (only users who chose one);
* ``<prefix>u:<update id>`` ``busy:<replica>`` while a replica handles the update (a lease of
  ``CLAIM_LEASE`` seconds, renewed while it works), then ``done`` for ``UPDATE_TTL``;
* ``<prefix>c:<chat id>`` a hash with a private chat's message span (see ``ChatSpan``), expiring
  once nothing in it could still be deleted.

Redis being unreachable is a warning, never a reason not to answer: reads then find nothing
(the reply uses the language of the message), claims succeed (an update may be answered twice
rather than never), and writes are dropped.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.storage import (
    BUCKET,
    CLAIM_LEASE,
    DELETABLE_FOR,
    UPDATE_TTL,
    ChatSpan,
    Claim,
    MessageSpan,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
DONE = "done"
#: Seconds a Redis call may take before it counts as failed.
SOCKET_TIMEOUT = 5.0

# Note message ids in a chat's span: the first id of the current bucket, the newest id.
_NOTE = """
local now = tonumber(ARGV[1])
local field = 'b' .. ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then
  local first = tonumber(ARGV[5])
  for i = 6, #ARGV do first = math.min(first, tonumber(ARGV[i])) end
  redis.call('HSET', KEYS[1], 'last', 0, 'older', first > 1 and 1 or 0)
end
for i = 5, #ARGV do
  local id = tonumber(ARGV[i])
  local known = tonumber(redis.call('HGET', KEYS[1], field))
  if (not known) or id < known then redis.call('HSET', KEYS[1], field, id) end
  if id > tonumber(redis.call('HGET', KEYS[1], 'last')) then
    redis.call('HSET', KEYS[1], 'last', id)
  end
end
redis.call('HSET', KEYS[1], 'at', ARGV[1])
local cutoff = now - tonumber(ARGV[3])
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  local bucket = string.sub(name, 1, 1) == 'b' and tonumber(string.sub(name, 2))
  if bucket and (bucket + 1) * tonumber(ARGV[4]) <= cutoff then
    redis.call('HDEL', KEYS[1], name)
    redis.call('HSET', KEYS[1], 'older', 1)
  end
end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) + tonumber(ARGV[4])))
return 1
"""

# Take a chat's span and start a clean one after it (atomically, whichever replica asks).
_TAKE = """
local all = redis.call('HGETALL', KEYS[1])
if #all == 0 then return all end
local last = redis.call('HGET', KEYS[1], 'last')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'last', last, 'older', 0, 'at', ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return all
"""

# Drop or extend a claim only if this replica still holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
local renewed = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    renewed = renewed + 1
  end
end
return renewed
"""


class RedisStore:
    """``Store`` in Redis; see the module docstring for the keys."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        clock: Callable[[], float] = time.time,
        lease: float = CLAIM_LEASE,
    ) -> None:
        self._client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            health_check_interval=30,
        )
        self._prefix = f"kidsrights:{namespace}:" if namespace else "kidsrights:"
        self._clock = clock
        self._lease_ms = int(lease * 1000)
        self.owner = f"busy:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._note = self._client.register_script(_NOTE)
        self._take = self._client.register_script(_TAKE)
        self._release = self._client.register_script(_RELEASE)
        self._renew = self._client.register_script(_RENEW)
        self._failing = False

    # ---- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        await self._call(self._client.ping(), None, "connect to")

    async def close(self) -> None:
        await self._client.aclose()

    async def flush(self) -> None:
        """Every write went to Redis as it happened."""

    # ---- languages -------------------------------------------------------------------------

    async def languages(self) -> dict[int, str]:
        """Nothing up front: each update reads its user's language (``language``), so a choice
        made on another replica is seen at once."""
        return {}

    async def language(self, user_id: int) -> str | None:
        return await self._call(self._client.hget(self._key("lang"), str(user_id)), None)

    async def set_language(self, user_id: int, lang: str | None) -> None:
        key = self._key("lang")
        if lang is None:
            await self._call(self._client.hdel(key, str(user_id)), None)
        else:
            await self._call(self._client.hset(key, str(user_id), lang), None)

    # ---- updates ---------------------------------------------------------------------------

    async def claim(self, update_id: int) -> Claim:
        key = self._update_key(update_id)
        taken = await self._call(
            self._client.set(key, self.owner, nx=True, px=self._lease_ms), True
        )
        if taken:
            return Claim.NEW
        return await self.state(update_id, missing=Claim.NEW)

    async def finish(self, update_id: int) -> None:
        key = self._update_key(update_id)
        await self._call(self._client.set(key, DONE, ex=int(UPDATE_TTL)), None)

    async def release(self, update_id: int) -> None:
        await self._call(self._release(keys=[self._update_key(update_id)], args=[self.owner]), 0)

    async def state(self, update_id: int, *, missing: Claim = Claim.NEW) -> Claim:
        value = await self._call(self._client.get(self._update_key(update_id)), None)
        if value is None:
            return missing
        return Claim.DONE if value == DONE else Claim.BUSY

    async def renew(self, update_ids: Iterable[int]) -> None:
        keys = [self._update_key(u) for u in update_ids]
        if keys:
            await self._call(self._renew(keys=keys, args=[self.owner, self._lease_ms]), 0)

    # ---- message spans ---------------------------------------------------------------------

    async def note_messages(self, chat_id: int, message_ids: Iterable[int]) -> None:
        ids = [str(int(m)) for m in message_ids]
        if not ids:
            return
        now = self._clock()
        args = [repr(now), str(int(now // BUCKET)), str(DELETABLE_FOR), str(BUCKET), *ids]
        await self._call(self._note(keys=[self._chat_key(chat_id)], args=args), None)

    async def take_span(self, chat_id: int) -> MessageSpan:
        now = self._clock()
        args = [repr(now), str(DELETABLE_FOR + BUCKET)]
        flat = await self._call(self._take(keys=[self._chat_key(chat_id)], args=args), None)
        if not flat:
            return MessageSpan(None, None, older_remain=True)
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        span = ChatSpan(
            buckets={int(k[1:]): int(v) for k, v in fields.items() if k.startswith("b")},
            last=int(fields.get("last", 0)),
            older=fields.get("older") == "1",
            at=float(fields.get("at", 0.0)),
        )
        return span.span(now)

    async def forget_chat(self, chat_id: int) -> None:
        await self._call(self._client.delete(self._chat_key(chat_id)), None)

    # ---- internals -------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self._prefix + name

    def _update_key(self, update_id: int) -> str:
        return f"{self._prefix}u:{update_id}"

    def _chat_key(self, chat_id: int) -> str:
        return f"{self._prefix}c:{chat_id}"

    async def _call(self, call: Awaitable[Any], fallback: T, what: str = "use") -> Any | T:
        try:
            result = await call
        except (RedisError, OSError) as error:
            if not self._failing:
                self._failing = True
                logger.warning(
                    "Cannot %s Redis (%s); answering without the shared state until it is back",
                    what,
                    type(error).__name__,
                )
            return fallback
        if self._failing:
            self._failing = False
            logger.info("Redis is reachable again")
        return result
