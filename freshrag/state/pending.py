"""Which documents have a change waiting in the queue, and since when: the basis of coalescing.

A document with a change waiting needs no second task: the worker re-reads the source when it starts, so one
waiting task covers any number of changes. The worker releases the claim as it starts, so a change made
while it works gets a task of its own; that task waits until `interval` seconds after the previous run
began, so a burst of saves within one interval costs at most two index runs (the first change is never
delayed: an edit to a quiet document is indexed at once).

A run that fails and is sent again keeps its document claimed, with the original detection time, until the
retry starts: the change is still waiting (queue depth, oldest pending age and `/documents/{id}` say so),
only for its retry rather than for its first run.

A claim lapses with the task expiry, so a lost message cannot silence a document for good.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import redis


class PendingChanges(Protocol):
    def claim(self, doc_id: str, detected_at: float) -> float | None:
        """Mark `doc_id` pending and return how long its task should wait before it runs; None when a
        change of it is already waiting (this one is covered by it)."""
        ...

    def started(self, doc_id: str) -> None:
        """The worker has started on `doc_id`: later changes need a task of their own."""
        ...

    def retrying(self, doc_id: str, detected_at: float) -> None:
        """A run of `doc_id` failed and is sent again: keep it pending, as detected at `detected_at` (or
        earlier, when a change already waiting was detected earlier), until the retry starts."""
        ...

    def waiting(self, doc_id: str) -> float | None:
        """When the waiting change of `doc_id` was detected, or None when none waits."""
        ...

    def depth(self) -> int: ...

    def oldest_age(self) -> float:
        """Seconds since the oldest waiting change was detected (0 when none waits)."""
        ...


class InProcessPending:
    """Claims in this process's memory: the embedded mode, where the queue lives in the same process."""

    def __init__(self, ttl_seconds: float, interval_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._interval = interval_seconds
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[float, float]] = {}  # doc_id -> (detected_at, claimed_at)
        self._last_run: dict[str, float] = {}  # doc_id -> when its latest run began (recent ones only)

    def claim(self, doc_id: str, detected_at: float) -> float | None:
        now = time.monotonic()
        with self._lock:
            held = self._claims.get(doc_id)
            if held is not None and now - held[1] < self._ttl:
                return None
            self._claims[doc_id] = (detected_at, now)
            return max(self._last_run.get(doc_id, -self._interval) + self._interval - now, 0.0)

    def started(self, doc_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._claims.pop(doc_id, None)
            self._last_run[doc_id] = now
            if len(self._last_run) > 10_000:  # forget runs older than the interval
                self._last_run = {d: t for d, t in self._last_run.items() if now - t < self._interval}

    def retrying(self, doc_id: str, detected_at: float) -> None:
        now = time.monotonic()
        with self._lock:
            held = self._claims.get(doc_id)
            if held is not None and now - held[1] < self._ttl:
                detected_at = min(detected_at, held[0])
            self._claims[doc_id] = (detected_at, now)

    def waiting(self, doc_id: str) -> float | None:
        with self._lock:
            held = self._claims.get(doc_id)
        return held[0] if held else None

    def depth(self) -> int:
        with self._lock:
            return len(self._claims)

    def oldest_age(self) -> float:
        with self._lock:
            oldest = min((detected for detected, _ in self._claims.values()), default=None)
        return 0.0 if oldest is None else max(time.time() - oldest, 0.0)


# One key per claim (it expires with the task) and a sorted set by detection time for depth and age; the
# script makes "claim if free, then index it" one atomic step.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
  return math.max(redis.call('PTTL', KEYS[3]), 0)
end
return -1
"""

# Claim for a retry whatever holds the claim now, keeping the earlier detection time.
_RETRYING = """
local detected = ARGV[1]
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) < tonumber(detected) then
  detected = held
end
redis.call('SET', KEYS[1], detected, 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], detected, ARGV[3])
"""


class RedisPending:
    """Claims in Redis, shared by every ingress process and worker of a distributed deployment."""

    PREFIX = "freshrag:pending:"
    INDEX = "freshrag:pending"
    LAST_RUN = "freshrag:last-run:"  # expires `interval` after the run began

    def __init__(self, client: redis.Redis, ttl_seconds: float, interval_seconds: float) -> None:
        self._client = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._interval_ms = int(interval_seconds * 1000)
        self._claim = client.register_script(_CLAIM)
        self._retrying = client.register_script(_RETRYING)

    def claim(self, doc_id: str, detected_at: float) -> float | None:
        keys = [self.PREFIX + doc_id, self.INDEX, self.LAST_RUN + doc_id]
        wait_ms = int(self._claim(keys=keys, args=[repr(detected_at), self._ttl_ms, doc_id]))
        return None if wait_ms < 0 else wait_ms / 1000

    def started(self, doc_id: str) -> None:
        pipe = self._client.pipeline()
        pipe.delete(self.PREFIX + doc_id)
        pipe.zrem(self.INDEX, doc_id)
        if self._interval_ms > 0:
            pipe.set(self.LAST_RUN + doc_id, 1, px=self._interval_ms)
        pipe.execute()

    def retrying(self, doc_id: str, detected_at: float) -> None:
        keys = [self.PREFIX + doc_id, self.INDEX]
        self._retrying(keys=keys, args=[repr(detected_at), self._ttl_ms, doc_id])

    def waiting(self, doc_id: str) -> float | None:
        value = self._client.get(self.PREFIX + doc_id)
        return None if value is None else float(value)

    def depth(self) -> int:
        self._forget_lapsed()
        return int(self._client.zcard(self.INDEX))

    def oldest_age(self) -> float:
        self._forget_lapsed()
        oldest = self._client.zrange(self.INDEX, 0, 0, withscores=True)
        return max(time.time() - float(oldest[0][1]), 0.0) if oldest else 0.0

    def _forget_lapsed(self, batch: int = 100) -> None:
        """Drop index entries whose claim expired with its task (the oldest first, a batch at a time)."""
        oldest: list[str] = [_text(member) for member in self._client.zrange(self.INDEX, 0, batch - 1)]
        if not oldest:
            return
        pipe = self._client.pipeline()
        for member in oldest:
            pipe.exists(self.PREFIX + member)
        alive = pipe.execute()
        lapsed = [member for member, exists in zip(oldest, alive, strict=True) if not exists]
        if lapsed:
            self._client.zrem(self.INDEX, *lapsed)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
