"""A Redis work queue whose items are leased, not popped (issue 17, item 3).

scrapy-redis pops a request with no acknowledgement, so a worker killed mid-request loses what
it held. Here `take` moves an item atomically (one Lua script) from the queue to an in-flight
sorted set scored by its lease deadline in Redis server time, so the deadline does not depend on
the clocks of the workers. An item leaves the system only by `ack`; a lease that runs out goes
back to the front of the queue (`reclaim_expired`, also done by every `take`), and a worker that
stops on SIGTERM hands its items back at once with `release`.

A token names the item and the lease number. `ack` finishes the item whichever lease it came
from (the work was done, even if late), and only once: an item acked after its lease was
reclaimed is dropped from the queue, not processed again. `release` and `renew` act only on the
current lease, so a worker whose lease ran out cannot hand back or extend another worker's.

All keys share one hash tag (`{prefix}`) so the scripts stay valid on a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

#: Lua helpers of every script: `add` to a per-job counter in a hash, dropping the field at zero
#: so that finished jobs leave no keys behind; `requeue`; `now` in server milliseconds.
_PRELUDE = """
local function add(key, job, n)
  if redis.call('HINCRBY', key, job, n) <= 0 then redis.call('HDEL', key, job) end
end
-- move an in-flight item back to the queue at its first place: ahead of everything of its
-- priority queued after it (it is the oldest work of its rank)
-- keys: 1 queue, 2 inflight, 3 payloads, 4 jobs, 5 leases, 6 workers, 7 pending, 8 active,
-- 9 scores
local function requeue(id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[6], id)
  local job = redis.call('HGET', KEYS[4], id)
  add(KEYS[8], job, -1)
  add(KEYS[7], job, 1)
  redis.call('ZADD', KEYS[1], redis.call('HGET', KEYS[9], id), id)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

#: Lua fragment: move expired leases back to the queue.
_RECLAIM = """
local function reclaim(limit)
  local expired
  if limit > 0 then
    expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
  else
    expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  end
  for _, id in ipairs(expired) do
    requeue(id)
  end
  return #expired
end
"""

#: Lua helper: queue `payloads` of `job` at `priority`. Score: higher priority first, then
#: arrival order (sequence numbers stay below 1e9 per rank step, priorities within +-1e6:
#: exact in doubles).
_ENQUEUE = """
local function enqueue(job, priority, payloads)
  local rank = -tonumber(priority) * 1e9
  for _, payload in ipairs(payloads) do
    local id = redis.call('INCR', KEYS[10])
    local score = string.format('%.0f', rank + id)
    redis.call('HSET', KEYS[3], id, payload)
    redis.call('HSET', KEYS[4], id, job)
    redis.call('HSET', KEYS[9], id, score)
    redis.call('ZADD', KEYS[1], score, id)
  end
  add(KEYS[7], job, #payloads)
  return #payloads
end
"""

# args: 1 job, 2 priority, then payloads.
_PUSH = (
    _PRELUDE
    + _ENQUEUE
    + """
return enqueue(ARGV[1], ARGV[2], {unpack(ARGV, 3)})
"""
)

# args: 1 job, 2 priority, 3 fingerprint, 4 payload; KEYS[11]: the set of fingerprints seen.
# Marking the request seen and queueing it are one step: a worker dying between the two
# cannot leave a request that is seen (so never queued again) but not queued.
_PUSH_NEW = (
    _PRELUDE
    + _ENQUEUE
    + """
if redis.call('SADD', KEYS[11], ARGV[3]) == 0 then return 0 end
return enqueue(ARGV[1], ARGV[2], {ARGV[4]})
"""
)

# Reclaim is bounded per take so that one script never runs long on a huge in-flight set.
_TAKE = (
    _PRELUDE
    + _RECLAIM
    + """
reclaim(100)
while true do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0)
  local id = first[1]
  if not id then return false end
  redis.call('ZREM', KEYS[1], id)
  local payload = redis.call('HGET', KEYS[3], id)
  -- an id without payload was acked while queued (a late ack after a reclaim): skip it
  if payload then
    local job = redis.call('HGET', KEYS[4], id)
    local lease = redis.call('HINCRBY', KEYS[5], id, 1)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    redis.call('HSET', KEYS[6], id, ARGV[1])
    add(KEYS[7], job, -1)
    add(KEYS[8], job, 1)
    return {id, lease, payload}
  end
end
"""
)

_RECLAIM_ALL = _PRELUDE + _RECLAIM + "return reclaim(0)\n"

_ACK = (
    _PRELUDE
    + """
local id = ARGV[1]
local job = redis.call('HGET', KEYS[4], id)
if not job then return 0 end
if redis.call('ZREM', KEYS[2], id) == 1 then add(KEYS[8], job, -1) else add(KEYS[7], job, -1) end
redis.call('HDEL', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
redis.call('HDEL', KEYS[5], id)
redis.call('HDEL', KEYS[6], id)
redis.call('HDEL', KEYS[9], id)
return 1
"""
)

#: Release and renew check that the token's lease is the item's current one.
_CURRENT = """
local id = ARGV[1]
if not redis.call('ZSCORE', KEYS[2], id) then return 0 end
if redis.call('HGET', KEYS[5], id) ~= ARGV[2] then return 0 end
"""

_RELEASE = (
    _PRELUDE
    + _CURRENT
    + """
requeue(id)
return 1
"""
)

_RENEW = (
    _PRELUDE
    + _CURRENT
    + """
-- a lease that already ran out is lost, even before a reclaim noticed
if tonumber(redis.call('ZSCORE', KEYS[2], id)) <= now then return 0 end
redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[3]), id)
return 1
"""
)

_KEY_NAMES = (
    "queue",
    "inflight",
    "payloads",
    "jobs",
    "leases",
    "workers",
    "pending",
    "active",
    "scores",
)
#: Priorities a queue orders by (Scrapy's request priorities are small integers).
MAX_PRIORITY = 1_000_000

#: Items per PUSH script call: bounds how long one call holds Redis.
PUSH_BATCH = 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LeaseQueue:
    """One shared queue of (job, payload) items with leases; many jobs may share it."""

    def __init__(self, client: redis.Redis, prefix: str = "zhengwen") -> None:
        self._r = client
        self.prefix = prefix
        self._keys = [f"{{{prefix}}}:{name}" for name in _KEY_NAMES]
        self._seq = f"{{{prefix}}}:seq"
        self._push = client.register_script(_PUSH)
        self._push_new = client.register_script(_PUSH_NEW)
        self._take = client.register_script(_TAKE)
        self._reclaim = client.register_script(_RECLAIM_ALL)
        self._ack = client.register_script(_ACK)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)

    @classmethod
    def from_url(cls, url: str, prefix: str = "zhengwen") -> LeaseQueue:
        return cls(redis.Redis.from_url(url), prefix)

    def keys(self) -> list[str]:
        """Every key this queue may write (for cleanup and for memory reports)."""
        return [*self._keys, self._seq, self.seen_key()]

    def push(self, job_id: str, payloads: Iterable[bytes | str], priority: int = 0) -> int:
        """Queue payloads for a job, in order, behind what is queued at their priority and
        ahead of every lower priority; returns how many."""
        _check_priority(priority)
        batch: list[bytes | str] = []
        total = 0
        for payload in payloads:
            batch.append(payload)
            if len(batch) >= PUSH_BATCH:
                total += self._push_batch(job_id, priority, batch)
                batch = []
        if batch:
            total += self._push_batch(job_id, priority, batch)
        return total

    def _push_batch(self, job_id: str, priority: int, batch: list[bytes | str]) -> int:
        args = [job_id, priority, *batch]
        return int(self._push(keys=[*self._keys, self._seq], args=args))

    def seen_key(self) -> str:
        """The set of fingerprints `push_new` checks (in this queue's hash slot)."""
        return f"{{{self.prefix}}}:dupefilter"

    def push_new(
        self, job_id: str, fingerprint: bytes | str, payload: bytes | str, priority: int = 0
    ) -> bool:
        """Queue the payload unless its fingerprint was seen before, marking it seen in the
        same atomic step; True when it was queued."""
        _check_priority(priority)
        args: list[bytes | str | int] = [job_id, priority, fingerprint, payload]
        keys = [*self._keys, self._seq, self.seen_key()]
        return bool(self._push_new(keys=keys, args=args))

    def take(self, worker_id: str, lease_seconds: float) -> tuple[str, bytes] | None:
        """Lease the next item to `worker_id`: (token, payload), or None when nothing is queued
        (items may still be in flight: see `drained`)."""
        got = self._take(keys=self._keys, args=[worker_id, _millis(lease_seconds)])
        if got is None:
            return None
        item_id, lease, payload = got
        token = f"{_text(item_id)}:{int(lease)}"
        return token, payload if isinstance(payload, bytes) else str(payload).encode()

    def ack(self, token: str) -> bool:
        """Finish the item: True the first time, False once it is already finished."""
        item_id, _ = _split(token)
        return bool(self._ack(keys=self._keys, args=[item_id]))

    def ack_many(self, tokens: Iterable[str]) -> int:
        """`ack` several items in one round trip; how many were finished by this call."""
        pipe = self._r.pipeline(transaction=False)
        for token in tokens:
            self._ack(keys=self._keys, args=[_split(token)[0]], client=pipe)
        return sum(int(done) for done in pipe.execute())

    def release(self, token: str) -> bool:
        """Hand the item back to the front of the queue now (a worker stopping on SIGTERM).
        False when this lease is no longer current (expired and reclaimed, or acked)."""
        return bool(self._release(keys=self._keys, args=list(_split(token))))

    def renew(self, token: str, lease_seconds: float) -> bool:
        """Extend a current lease to `lease_seconds` from now (a long fetch's heartbeat)."""
        item_id, lease = _split(token)
        args: list[str | int] = [item_id, lease, _millis(lease_seconds)]
        return bool(self._renew(keys=self._keys, args=args))

    def reclaim_expired(self) -> int:
        """Return every expired lease to the queue; how many were returned."""
        return int(self._reclaim(keys=self._keys))

    def pending(self, job_id: str) -> int:
        """Items of the job waiting in the queue."""
        return int(self._r.hget(self._keys[6], job_id) or 0)

    def in_flight(self, job_id: str) -> int:
        """Items of the job leased to a worker and not yet acked."""
        return int(self._r.hget(self._keys[7], job_id) or 0)

    def clear(self) -> None:
        """Drop every item, queued or in flight (a finished or abandoned job's queue)."""
        self._r.delete(*self.keys())

    def drained(self, job_id: str) -> bool:
        """The job is done: nothing queued and nothing in flight."""
        pipe = self._r.pipeline(transaction=True)
        pipe.hget(self._keys[6], job_id)
        pipe.hget(self._keys[7], job_id)
        queued, active = pipe.execute()
        return not queued and not active


def _check_priority(priority: int) -> None:
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"a priority must be within +-{MAX_PRIORITY}, not {priority}")


def _millis(seconds: float) -> int:
    if seconds <= 0:
        raise ValueError(f"a lease must be positive, not {seconds}")
    return max(1, round(seconds * 1000))


def _split(token: str) -> tuple[str, str]:
    item_id, sep, lease = token.partition(":")
    if not sep or not item_id.isdigit() or not lease.isdigit():
        raise ValueError(f"not a lease token: {token!r}")
    return item_id, lease
