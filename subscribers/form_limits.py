"""Per-minute limits on the public forms (signups per IP and per address),
counted in the Django cache (Redis when REDIS_URL is set, so every web process
shares one count). Not the send rate: that is newsletter.sending.send_rate."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

WINDOW_SECONDS = 60


def allow(
    scope: str, key: str, *, limit: int, window: int = WINDOW_SECONDS, always: bool = False
) -> bool:
    """Count one attempt; False once `limit` attempts were made in this window.

    RATELIMIT_ENABLED=0 (a load test from one address) turns the limits off,
    except those with `always`: they protect other people's inboxes, not ours.

    The window starts at the first attempt (cache.add) and incr keeps its
    expiry, so it is a fixed window per key, without a clock boundary that
    would let a burst straddle two windows in tests.
    """
    if not (settings.RATELIMIT_ENABLED or always):
        return True
    cache_key = f"ratelimit:{scope}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"
    cache.add(cache_key, 0, timeout=window)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window)
        count = 1
    return count <= limit


def client_ip(request: HttpRequest) -> str:
    """The client's address, for signup limits and admin lockouts alike. Behind
    TRUSTED_PROXIES proxies of ours, the X-Forwarded-For entry the outermost one
    appended: the entries before it are whatever the client claimed."""
    hops = settings.TRUSTED_PROXIES
    if hops:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        entries = [entry.strip() for entry in forwarded if entry.strip()]
        if len(entries) >= hops:
            return entries[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"
