"""What every vendor connector (Feishu, DingTalk, WeCom) needs around its HTTP calls: an access token
cached across processes and refreshed before it expires, a client-side rate limit per vendor API, and a
back-off on the vendor's "too many requests" answers that honours its reset header.

Shared state lives in Django's cache (Redis in production, so every worker process counts against the
same limit; per-process memory in the embedded default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.core.cache import cache

# Refresh a token this long before the vendor says it expires (Feishu hands out a new one when < 30 min
# are left; DingTalk and WeCom tokens last 7,200 s).
TOKEN_REFRESH_MARGIN_SECONDS = 300
_token_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class VendorError(Exception):
    """A vendor API call failed; ``code`` is the vendor's error code, ``status`` the HTTP status."""

    def __init__(self, message: str, *, code: int | str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class VendorRateLimited(VendorError):
    """Still limited after the in-process back-off; ``retry_after`` seconds is the vendor's reset hint."""

    def __init__(self, message: str, *, retry_after: float | None = None, code: int | str | None = None):
        super().__init__(message, code=code, status=429)
        self.retry_after = retry_after


class TokenCache:
    """One access token per connector and name ("tenant", "app"...), shared by all processes.

    ``fetch`` asks the vendor and returns (token, seconds it lives). ``get`` returns a cached token with
    more than the margin left, else fetches once (one fetch per process at a time); ``invalidate`` drops it
    after the vendor answered "invalid token", so the next ``get`` fetches a new one.
    """

    def __init__(self, key: str, fetch: Callable[[], tuple[str, int]], *, margin: int = TOKEN_REFRESH_MARGIN_SECONDS):
        self.key = f"oa-token:{key}"
        self.fetch = fetch
        self.margin = margin

    def get(self) -> str:
        cached = cache.get(self.key)
        if cached and cached[1] - self.margin > time.time():
            return cached[0]
        with _lock_for(self.key):
            cached = cache.get(self.key)
            if cached and cached[1] - self.margin > time.time():
                return cached[0]
            token, lifetime = self.fetch()
            expires_at = time.time() + max(int(lifetime), 1)
            cache.set(self.key, (token, expires_at), timeout=max(int(lifetime), 1))
            return token

    def invalidate(self, stale: str | None = None) -> None:
        """Drop the cached token; with ``stale`` (the token the vendor refused) only if it is still that one,
        so callers refused at the same moment fetch one new token between them, not one each."""
        with _lock_for(self.key):
            cached = cache.get(self.key)
            if stale is not None and (cached is None or cached[0] != stale):
                return
            cache.delete(self.key)


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _token_locks.setdefault(key, threading.Lock())


@dataclass(frozen=True)
class RateLimit:
    """At most ``per_second`` and ``per_minute`` calls (either may be None) for one vendor API."""

    per_second: int | None = None
    per_minute: int | None = None


class RateLimiter:
    """Fixed windows counted in the shared cache; ``acquire`` waits for the next window when one is full
    (at most ``max_wait`` seconds, then raises VendorRateLimited so the caller retries later)."""

    def __init__(self, key: str, limit: RateLimit, *, max_wait: float = 65.0, clock: Callable[[], float] = time.time):
        self.key = f"oa-rate:{key}"
        self.limit = limit
        self.max_wait = max_wait
        self.clock = clock

    def acquire(self) -> None:
        deadline = self.clock() + self.max_wait
        while True:
            wait = self._try()
            if wait <= 0:
                return
            if self.clock() + wait > deadline:
                raise VendorRateLimited(f"client-side limit for {self.key} reached", retry_after=wait)
            time.sleep(wait)

    def _try(self) -> float:
        """0 when a call may go now (and it is counted), else the seconds until a window frees up."""
        now = self.clock()
        for window, allowed in ((1, self.limit.per_second), (60, self.limit.per_minute)):
            if not allowed:
                continue
            slot = int(now // window)
            key = f"{self.key}:{window}:{slot}"
            cache.add(key, 0, timeout=window + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=window + 1)
                count = 1
            if count > allowed:
                return (slot + 1) * window - now + 0.01
        return 0.0


def backoff_call(
    send: Callable[[], requests.Response],
    limited: Callable[[requests.Response], float | None],
    *,
    attempts: int = 3,
    max_sleep: float = 10.0,
) -> requests.Response:
    """Call ``send``; when ``limited(response)`` says the vendor limited us (returns the seconds to wait:
    its reset header, or None for no hint), sleep and try again, doubling from 1 s without a hint. After
    ``attempts`` raises VendorRateLimited with the last hint, so a task can reschedule itself instead."""
    delay = 1.0
    hint: float | None = None
    for attempt in range(attempts):
        response = send()
        hint = limited(response)
        if hint is None and not _is_limited_status(response):
            return response
        wait = hint if hint is not None else delay
        if attempt + 1 < attempts and wait <= max_sleep:
            time.sleep(max(wait, 0.0))
            delay *= 2
            continue
        break
    raise VendorRateLimited("the vendor keeps answering 'too many requests'", retry_after=hint)


def _is_limited_status(response: requests.Response) -> bool:
    return response.status_code == 429


def reset_hint(response: requests.Response, *names: str) -> float | None:
    """Seconds from the first reset header present (Retry-After, x-ogw-ratelimit-reset...), else None."""
    for name in names or ("Retry-After",):
        value = response.headers.get(name)
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                continue
    return None
