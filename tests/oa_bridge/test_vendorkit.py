"""The shared parts of the vendor connectors: token cache, client-side rate limit, back-off."""

import pytest
import requests
from django.core.cache import cache

from oa_bridge.connectors.vendorkit import RateLimit, RateLimiter, TokenCache, VendorRateLimited, backoff_call


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_token_is_fetched_once_refreshed_before_expiry_and_after_invalidation():
    fetched = []

    def fetch():
        fetched.append(1)
        return f"t{len(fetched)}", 7200

    tokens = TokenCache("c1:tenant", fetch)
    assert tokens.get() == "t1" and tokens.get() == "t1" and len(fetched) == 1
    tokens.invalidate()
    assert tokens.get() == "t2"

    short = TokenCache("c2:tenant", lambda: ("s", 200))  # less than the 300 s margin: fetched every time
    calls = []
    short.fetch = lambda: (calls.append(1), ("s", 200))[1]
    short.get(), short.get()
    assert len(calls) == 2


def test_the_rate_limiter_counts_per_window_and_refuses_when_waiting_would_take_too_long():
    now = [1000.0]
    limiter = RateLimiter("v:api", RateLimit(per_second=3), max_wait=0.0, clock=lambda: now[0])
    for _ in range(3):
        limiter.acquire()
    with pytest.raises(VendorRateLimited) as refused:
        limiter.acquire()
    assert 0 < refused.value.retry_after <= 1.01
    now[0] = 1001.0  # the next second's window
    limiter.acquire()

    minute = RateLimiter("v:other", RateLimit(per_minute=2), max_wait=0.0, clock=lambda: now[0])
    minute.acquire(), minute.acquire()
    with pytest.raises(VendorRateLimited):
        minute.acquire()


def _response(status, headers=None):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    return response


def test_backoff_retries_a_limited_answer_and_gives_up_with_the_reset_hint():
    answers = iter([_response(429, {"Retry-After": "0"}), _response(200)])
    result = backoff_call(lambda: next(answers), lambda r: 0.0 if r.status_code == 429 else None)
    assert result.status_code == 200

    with pytest.raises(VendorRateLimited) as refused:
        backoff_call(lambda: _response(429), lambda r: 30.0, attempts=3, max_sleep=1)
    assert refused.value.retry_after == 30.0


def test_two_callers_refused_at_once_fetch_one_new_token_between_them():
    fetched = []
    tokens = TokenCache("c3:tenant", lambda: (fetched.append(1), (f"t{len(fetched)}", 7200))[1])
    first = tokens.get()
    tokens.invalidate(stale=first)  # caller A: refused, drops t1
    assert tokens.get() == "t2"  # ... and fetches t2
    tokens.invalidate(stale=first)  # caller B, refused with t1 too: t2 stays
    assert tokens.get() == "t2" and len(fetched) == 2
