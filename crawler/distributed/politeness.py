"""A per-domain politeness budget shared by every worker of the cluster (issue 17, item 4).

Scrapy's download delay and per-domain concurrency hold per process, so ten workers would hit a
portal ten times harder. Here a worker asks Redis for a slot before each request to a domain.
One Lua script decides on Redis server time (the workers' clocks never enter): a slot is granted
only while fewer than `concurrency` slots of the domain are held and at least `delay_seconds`
have passed since the domain's previous grant. Held slots live in a sorted set scored by their
expiry, so a worker that dies holding one blocks the domain for `slot_seconds` at most.

Waiting is polling: the script says how long the delay still runs, and a worker sleeps that
long (or `poll_seconds` while the domain is full). Grants are not fair between waiters; the
bound, not the order, is what a portal sees. `try_acquire` is one attempt that never sleeps
(the Scrapy middleware `crawler.distributed.throttle` waits on the reactor instead); `acquire`
repeats it, sleeping in between, for code outside a reactor.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import redis

# Keys: 1 the domain's held slots (sorted set: slot id -> expiry, µs), 2 its last grant (µs).
# Args: 1 slot id, 2 delay µs, 3 concurrency, 4 slot lifetime µs.
# Returns {1, grant time µs}, or {0, µs to wait, 1 if the domain is full (the wait is then until
# its oldest slot expires, an upper bound: a release may come sooner) else 0}.
# Times are integral µs below 2**53, exact in Lua's doubles; '%.0f' keeps them out of exponent
# notation when stored.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now, 1}
end
local last = redis.call('GET', KEYS[2])
if last then
  local wait = tonumber(last) + tonumber(ARGV[2]) - now
  if wait > 0 then return {0, wait, 0} end
end
local ttl = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) + 1000)
redis.call('SET', KEYS[2], string.format('%.0f', now), 'PX',
  math.ceil(tonumber(ARGV[2]) / 1000) + 1000)
return {1, now}
"""

# Returns the server time (µs) at which the slot was given back, or false if it was not held.
_RELEASE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local t = redis.call('TIME')
return tonumber(t[1]) * 1000000 + tonumber(t[2])
"""


@dataclass(frozen=True, slots=True)
class Slot:
    """A granted slot; `granted_us` is the Redis server time of the grant, in µs."""

    domain: str
    slot_id: str
    granted_us: int


class DomainBudget:
    """Cluster-wide download delay and concurrency per domain."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "zhengwen",
        *,
        slot_seconds: float = 60.0,
        poll_seconds: float = 0.05,
    ) -> None:
        if slot_seconds <= 0 or poll_seconds <= 0:
            raise ValueError("slot_seconds and poll_seconds must be positive")
        self._r = client
        self.prefix = prefix
        self.slot_seconds = slot_seconds
        self.poll_seconds = poll_seconds
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "zhengwen", **kwargs: float) -> DomainBudget:
        return cls(redis.Redis.from_url(url), prefix, **kwargs)

    def keys(self, domain: str) -> list[str]:
        """The keys one domain's budget uses."""
        tag = f"{{{self.prefix}:{domain}}}"
        return [f"{tag}:slots", f"{tag}:last"]

    def try_acquire(self, domain: str, delay_seconds: float, concurrency: int) -> Slot | float:
        """One attempt, never sleeping: a Slot of `domain`, or the seconds to wait before the
        next attempt. That is the rest of the delay since the domain's last grant, or, while
        the domain holds `concurrency` slots, `poll_seconds` (a release cannot be foreseen; at
        most until the oldest slot expires). Raises the client's errors (redis.ConnectionError
        and the like) as they are."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        slot_id = uuid.uuid4().hex
        args: list[str | int] = [
            slot_id,
            max(0, round(delay_seconds * 1_000_000)),
            concurrency,
            max(1, round(self.slot_seconds * 1_000_000)),
        ]
        reply = self._acquire(keys=self.keys(domain), args=args)
        if reply[0]:
            return Slot(domain, slot_id, int(reply[1]))
        wait = int(reply[1]) / 1_000_000
        if reply[2]:
            wait = min(wait, self.poll_seconds)
        return max(0.001, wait)

    def acquire(
        self, domain: str, delay_seconds: float, concurrency: int, timeout: float
    ) -> Slot | None:
        """Wait for a slot of `domain`; None when `timeout` seconds pass without one. Blocks
        the calling thread (time.sleep): not for use inside a reactor."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.try_acquire(domain, delay_seconds, concurrency)
            if isinstance(got, Slot):
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(max(0.001, min(got, remaining)))

    def release(self, slot: Slot) -> int | None:
        """Give the slot back; the server time (µs) it was freed, None if it had expired."""
        freed = self._release(keys=self.keys(slot.domain)[:1], args=[slot.slot_id])
        return None if freed is None else int(freed)
