"""Which documents have a change waiting in the queue, and since when: the basis of coalescing.

A document with a change waiting needs no second task: the worker re-reads the source when it starts, so one
waiting task covers any number of changes. Each claim is named by a token that its task carries. The worker
marks its claim running as it starts: a running claim is no longer waiting, so a change made while it works
takes a claim (and a task) of its own; that task waits until `interval` seconds after the previous run
began, so a burst of saves within one interval costs at most two index runs (the first change is never
delayed: an edit to a quiet document is indexed at once). The worker releases its claim when the run is done.

A run that fails and is sent again keeps its claim: the running claim goes back to waiting, with the
original detection time, in one step, so nothing slips in between; the change is still waiting (queue depth,
oldest pending age and `/documents/{id}` say so), only for its retry rather than for its first run. If a
change made during the failed run has claimed the document meanwhile and its task has not started, that
task covers the retry (it re-reads the source): the retry is not sent, and the claim keeps the earlier
detection time.

A claim lapses with the task expiry, so a lost message cannot silence a document for good. In Redis a claim
also keeps its task's message, so that a message lost by the broker's transport can be sent again (see
`stranded` and `freshrag.coordination.resend_stranded_changes`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

import redis


class PendingChanges(Protocol):
    """Claims of documents by tasks; `by` names the task's claim (`Change.claim`, which the task carries)."""

    def claim(
        self, doc_id: str, detected_at: float, by: str | None = None, message: str = ""
    ) -> float | None:
        """Mark `doc_id` pending, claimed `by` a task whose message is `message`, and return how long that
        task should wait before it runs; None when a change of it is already waiting (which covers this
        one)."""
        ...

    def started(self, doc_id: str, by: str | None = None) -> None:
        """The task of claim `by` has started: its claim is running, no longer waiting, and later changes
        need a task of their own."""
        ...

    def retrying(self, doc_id: str, detected_at: float, by: str | None = None) -> bool:
        """The run of claim `by` failed and is to be sent again: its claim goes back to waiting, as detected
        at `detected_at` (or earlier, when a change already waiting was detected earlier), until the retry
        starts. False when the retry is not needed: a change made during the run has claimed the document
        and its task, not started yet, covers it."""
        ...

    def finished(self, doc_id: str, by: str | None = None) -> None:
        """The task of claim `by` is done (the change applied, or dead-lettered): release its claim, unless
        a later change holds the document's claim now."""
        ...

    def waiting(self, doc_id: str) -> float | None:
        """When the waiting change of `doc_id` was detected, or None when none waits."""
        ...

    def depth(self) -> int: ...

    def stranded(self, older_than: float) -> dict[str, str]:
        """The messages of the waiting claims taken more than `older_than` seconds ago, by claim token:
        those whose message the broker may have lost (where claims outlive the process holding the
        queue)."""
        ...

    def oldest_age(self) -> float:
        """Seconds since the oldest waiting change was detected (0 when none waits)."""
        ...


@dataclass(frozen=True)
class _Claim:
    detected_at: float
    claimed_at: float  # monotonic: when it lapses
    token: str | None
    running: bool = False


class InProcessPending:
    """Claims in this process's memory: the embedded mode, where the queue lives in the same process."""

    def __init__(self, ttl_seconds: float, interval_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._interval = interval_seconds
        self._lock = threading.Lock()
        self._claims: dict[str, _Claim] = {}
        self._last_run: dict[str, float] = {}  # doc_id -> when its latest run began (recent ones only)

    def claim(
        self, doc_id: str, detected_at: float, by: str | None = None, message: str = ""
    ) -> float | None:
        now = time.monotonic()
        with self._lock:
            held = self._held(doc_id, now)
            if held is not None and not held.running:
                return None
            self._claims[doc_id] = _Claim(detected_at, now, by)
            return max(self._last_run.get(doc_id, -self._interval) + self._interval - now, 0.0)

    def started(self, doc_id: str, by: str | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            held = self._held(doc_id, now)
            if held is not None and held.token == by:
                self._claims[doc_id] = replace(held, claimed_at=now, running=True)
            self._last_run[doc_id] = now
            if len(self._last_run) > 10_000:  # forget runs older than the interval
                self._last_run = {d: t for d, t in self._last_run.items() if now - t < self._interval}

    def retrying(self, doc_id: str, detected_at: float, by: str | None = None) -> bool:
        now = time.monotonic()
        with self._lock:
            held = self._held(doc_id, now)
            if held is not None:
                detected_at = min(detected_at, held.detected_at)
                if held.token != by and not held.running:  # a later change's task covers the retry
                    self._claims[doc_id] = replace(held, detected_at=detected_at)
                    return False
                if held.token != by:  # a later change's run is under way: it may have read already
                    return True
            self._claims[doc_id] = _Claim(detected_at, now, by)
            return True

    def finished(self, doc_id: str, by: str | None = None) -> None:
        with self._lock:
            held = self._claims.get(doc_id)
            if held is not None and held.token == by:
                del self._claims[doc_id]

    def waiting(self, doc_id: str) -> float | None:
        with self._lock:
            held = self._claims.get(doc_id)
        return held.detected_at if held is not None and not held.running else None

    def depth(self) -> int:
        with self._lock:
            return sum(not held.running for held in self._claims.values())

    def stranded(self, older_than: float) -> dict[str, str]:
        """None: the queue lives in this process, and its messages die with the claims."""
        return {}

    def oldest_age(self) -> float:
        with self._lock:
            waiting = (held.detected_at for held in self._claims.values() if not held.running)
            oldest = min(waiting, default=None)
        return 0.0 if oldest is None else max(time.time() - oldest, 0.0)

    def _held(self, doc_id: str, now: float) -> _Claim | None:
        """The claim of `doc_id` unless it lapsed; call with the lock held."""
        held = self._claims.get(doc_id)
        return held if held is not None and now - held.claimed_at < self._ttl else None


# One key per claim, "<detected_at> <token> <running: 0 or 1>", expiring with the task, and a sorted set of
# the waiting ones by detection time for depth and age. Each script makes one step of a claim atomic. A value
# of an older version (the detection time alone) reads as a waiting claim without a token.
_PARSE = """
local function parse(held)
  local detected, token, running = string.match(held, '^(%S+)%s*(%S*)%s*(%S*)$')
  if token == '' then token = '-' end
  return detected, token, running == '1'
end
"""

# Claim unless a change is already waiting (a running claim does not cover a new change).
_CLAIM = (
    _PARSE
    + """
local held = redis.call('GET', KEYS[1])
if held then
  local _, _, running = parse(held)
  if not running then return -1 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[4] .. ' 0', 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[2])
end
return math.max(redis.call('PTTL', KEYS[3]), 0)
"""
)

_STARTED = (
    _PARSE
    + """
local held = redis.call('GET', KEYS[1])
if held then
  local detected, token = parse(held)
  if token == ARGV[1] then
    redis.call('SET', KEYS[1], detected .. ' ' .. token .. ' 1', 'PX', ARGV[2])
    redis.call('ZREM', KEYS[2], ARGV[3])
  end
end
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[3], 1, 'PX', ARGV[4])
end
"""
)

# Back to waiting under its own claim; a later change's claim not started yet covers the retry (0).
_RETRYING = (
    _PARSE
    + """
local detected = ARGV[1]
local held = redis.call('GET', KEYS[1])
if held then
  local was, token, running = parse(held)
  if tonumber(was) < tonumber(detected) then
    detected = was
  end
  if token ~= ARGV[4] then
    if running then return 1 end
    redis.call('SET', KEYS[1], detected .. ' ' .. token .. ' 0', 'PX', ARGV[2])
    redis.call('ZADD', KEYS[2], detected, ARGV[3])
    return 0
  end
end
redis.call('SET', KEYS[1], detected .. ' ' .. ARGV[4] .. ' 0', 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], detected, ARGV[3])
return 1
"""
)

_FINISHED = (
    _PARSE
    + """
local held = redis.call('GET', KEYS[1])
if held then
  local _, token = parse(held)
  if token == ARGV[1] then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[2])
  end
end
redis.call('DEL', KEYS[3])
"""
)


class RedisPending:
    """Claims in Redis, shared by every ingress process and worker of a distributed deployment."""

    PREFIX = "freshrag:pending:"
    INDEX = "freshrag:pending"
    MESSAGE = "freshrag:pending-message:"  # by claim token: the task's message, for as long as the claim
    LAST_RUN = "freshrag:last-run:"  # expires `interval` after the run began

    def __init__(self, client: redis.Redis, ttl_seconds: float, interval_seconds: float) -> None:
        self._client = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._interval_ms = int(interval_seconds * 1000)
        self._claim = client.register_script(_CLAIM)
        self._started = client.register_script(_STARTED)
        self._retrying = client.register_script(_RETRYING)
        self._finished = client.register_script(_FINISHED)

    def claim(
        self, doc_id: str, detected_at: float, by: str | None = None, message: str = ""
    ) -> float | None:
        keys = [self.PREFIX + doc_id, self.INDEX, self.LAST_RUN + doc_id, self.MESSAGE + _token(by)]
        args: list[str | int] = [repr(detected_at), self._ttl_ms, doc_id, _token(by), message if by else ""]
        wait_ms = int(self._claim(keys=keys, args=args))
        return None if wait_ms < 0 else wait_ms / 1000

    def started(self, doc_id: str, by: str | None = None) -> None:
        keys = [self.PREFIX + doc_id, self.INDEX, self.LAST_RUN + doc_id]
        self._started(keys=keys, args=[_token(by), self._ttl_ms, doc_id, self._interval_ms])

    def retrying(self, doc_id: str, detected_at: float, by: str | None = None) -> bool:
        keys = [self.PREFIX + doc_id, self.INDEX]
        args: list[str | int] = [repr(detected_at), self._ttl_ms, doc_id, _token(by)]
        return bool(int(self._retrying(keys=keys, args=args)))

    def finished(self, doc_id: str, by: str | None = None) -> None:
        keys = [self.PREFIX + doc_id, self.INDEX, self.MESSAGE + _token(by)]
        self._finished(keys=keys, args=[_token(by), doc_id])

    def waiting(self, doc_id: str) -> float | None:
        value = self._client.get(self.PREFIX + doc_id)
        if value is None:
            return None
        detected, _, running = [*_text(value).split(), "-", "0"][:3]
        return None if running == "1" else float(detected)

    def depth(self) -> int:
        self._forget_lapsed()
        return int(self._client.zcard(self.INDEX))

    def oldest_age(self) -> float:
        self._forget_lapsed()
        oldest = self._client.zrange(self.INDEX, 0, 0, withscores=True)
        return max(time.time() - float(oldest[0][1]), 0.0) if oldest else 0.0

    def stranded(self, older_than: float) -> dict[str, str]:
        waiting = [_text(member) for member in self._client.zrange(self.INDEX, 0, -1)]
        pipe = self._client.pipeline(transaction=False)
        for doc_id in waiting:
            pipe.get(self.PREFIX + doc_id)
            pipe.pttl(self.PREFIX + doc_id)
        replies = pipe.execute()
        tokens = []
        for held, left_ms in zip(replies[::2], replies[1::2], strict=True):
            if held is None:
                continue
            _, token, running = [*_text(held).split(), "-", "0"][:3]
            claimed_ago = (self._ttl_ms - int(left_ms)) / 1000
            if running != "1" and token != _token(None) and claimed_ago > older_than:
                tokens.append(token)
        messages = self._client.mget([self.MESSAGE + token for token in tokens]) if tokens else []
        return {token: _text(found) for token, found in zip(tokens, messages, strict=True) if found}

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


def _token(token: str | None) -> str:
    """A token as the scripts store it: one word, "-" for none (a message of an older version)."""
    return token or "-"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
