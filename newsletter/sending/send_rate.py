"""The global send rate: messages per second per newsletter, across all workers.

A reservation scheduler (GCRA, the token bucket's close cousin) in one small
Lua script on Redis: each caller reserves a slot for `count` messages and is
told how long to wait before sending them. Redis' own clock is used, so
workers on machines with skewed clocks still share one schedule. Without
REDIS_URL (the embedded default) the same arithmetic runs in-process, which
limits each worker process separately.
"""

import threading
import time
from functools import cache

from django.conf import settings

# KEYS[1] = the newsletter's schedule; ARGV = count, rate (messages/s).
# Returns the wait in microseconds. The key expires once its schedule is past.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local after = tat + math.floor(tonumber(ARGV[1]) * 1000000 / tonumber(ARGV[2]))
local ttl = math.floor((after - now) / 1000) + 60000
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', ttl)
return tat - now
"""


@cache
def _script():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    return client.register_script(RESERVE)


# A reservation further ahead than this is a clock artefact, not a queue.
LOCAL_HORIZON = 3600.0
_lock = threading.Lock()
_local_schedule: dict[str, float] = {}


def _reserve_locally(key: str, count: int, rate: float) -> float:
    with _lock:
        now = time.monotonic()
        start = max(_local_schedule.get(key, now), now)
        if start - now > LOCAL_HORIZON:  # a clock that jumped (or was frozen in a test)
            start = now
        _local_schedule[key] = start + count / rate
        return start - now


def bucket_key(newsletter_id: int) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "letterpress"
    return f"{prefix}:send-rate:{newsletter_id}"


def reserve(key: str, *, count: int, rate: float) -> float:
    """Reserve the next slot for `count` messages; seconds to wait before sending them."""
    if count <= 0:
        return 0.0
    if settings.REDIS_URL:
        return int(_script()(keys=[key], args=[count, rate])) / 1_000_000
    return _reserve_locally(key, count, rate)


def throttle(newsletter, count: int, *, sleep=time.sleep) -> float:
    """Block until `count` messages of this newsletter may go out; the seconds
    waited. `sleep` spends the wait (the hand-over records answers meanwhile)."""
    wait = reserve(bucket_key(newsletter.pk), count=count, rate=newsletter.send_rate)
    if wait > 0:
        sleep(wait)
    return wait
