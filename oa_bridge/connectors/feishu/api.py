"""Calls to the Feishu / Lark open platform: the tenant token (cached across processes, refreshed before
it expires and once after an "invalid token" answer), a client-side rate limit per API, back-off on
``99991400`` / HTTP 429 honouring ``x-ogw-ratelimit-reset``, and ``data.page_token`` paging.

Limits default to the documented ones (about 50 calls a second and 1,000 a minute per API); override them
with the Django setting ``BAOXIAO_FEISHU_RATE_LIMITS = {"contact": {"per_second": 20}, ...}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import requests
from django.conf import settings

from oa_bridge.connectors.base import CONNECT_TIMEOUT, READ_TIMEOUT, http_session
from oa_bridge.connectors.vendorkit import (
    RateLimit,
    RateLimiter,
    TokenCache,
    VendorError,
    backoff_call,
    reset_hint,
)

FEISHU_BASE_URL = "https://open.feishu.cn"
LARK_BASE_URL = "https://open.larksuite.com"
RATE_LIMITED = 99991400
# The tenant token is missing, malformed, expired or revoked: fetch a new one and try once more.
INVALID_TOKEN_CODES = {99991661, 99991663, 99991664, 99991665, 99991668, 99991671, 99991677}
# The app lacks a scope (the message lists the scopes that would do) or the user's data is out of its range.
PERMISSION_CODES = {99991672, 99991679, 40004, 40014, 41050}
BAD_APP_CREDENTIALS = {10003, 10014, 10015}
DEFAULT_LIMITS = {
    "auth": RateLimit(per_second=10, per_minute=600),
    "contact": RateLimit(per_second=50, per_minute=1000),
    "approval": RateLimit(per_second=50, per_minute=1000),
    "im": RateLimit(per_second=50, per_minute=1000),
}
PAGE_SIZE = 50  # the contact APIs' maximum
# Outbound calls run inside an outbox lease (60 s by default): wait little there and let the outbox retry
# later; a directory sync (a Celery task of its own) may wait longer for a window to free up.
MAX_WAIT = {"approval": 3.0, "im": 3.0}


class FeishuError(VendorError):
    """Feishu answered with a non-zero ``code``; ``message`` is said in plain words where we can."""


def limits() -> dict[str, RateLimit]:
    overrides = getattr(settings, "BAOXIAO_FEISHU_RATE_LIMITS", {}) or {}
    return DEFAULT_LIMITS | {name: RateLimit(**value) for name, value in overrides.items()}


def missing_scopes(message: str) -> list[str]:
    """The scopes Feishu names in a 99991672 answer ("... one of the following scopes is required: [a, b]")."""
    found = re.search(r"\[([^\]]*)\]", message or "")
    if not found:
        return []
    return [s.strip().strip("'\"") for s in found.group(1).split(",") if s.strip()]


def plain_words(code: Any, message: str) -> str:
    """Feishu's error in words an administrator can act on."""
    if code in BAD_APP_CREDENTIALS:
        return f"Feishu refused the App ID or App Secret (code {code}): copy both again from the console."
    if code in (99991672, 99991679):
        scopes = missing_scopes(message)
        wanted = " or ".join(scopes) if scopes else "the scope it names"
        return (
            f"Missing permission: grant {wanted} to the app in the Feishu console (Permissions & Scopes), "
            f"then publish a new app version (code {code})."
        )
    if code in (40004, 40014, 41050):
        return (
            f"Missing permission: the app may not see this part of the directory; widen its contact range "
            f"(data access range) in the console (code {code}: {message})."
        )
    if code in INVALID_TOKEN_CODES:
        return f"Feishu refused the access token twice (code {code}): check the App ID and App Secret."
    if code == RATE_LIMITED:
        return "Feishu says too many requests (code 99991400): retried later."
    return f"Feishu answered code {code}: {message}"


class FeishuApi:
    def __init__(self, *, key: str, base_url: str, app_id: str, app_secret: str):
        self.base_url = (base_url or FEISHU_BASE_URL).rstrip("/")
        self.app_id, self.app_secret = app_id, app_secret
        self.tokens = TokenCache(f"feishu:{key}:{app_id}:tenant", self._fetch_token)
        self.limiters = {
            name: RateLimiter(f"feishu:{key}:{name}", limit, max_wait=MAX_WAIT.get(name, 65.0))
            for name, limit in limits().items()
        }

    # --- plumbing --------------------------------------------------------------------------------------
    def _send(self, api: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        limiter = self.limiters.get(api)

        def send() -> requests.Response:
            if limiter is not None:
                limiter.acquire()
            return http_session().request(
                method, self.base_url + path, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs
            )

        return backoff_call(send, _limited, max_sleep=MAX_WAIT.get(api, 10.0))

    def _fetch_token(self) -> tuple[str, int]:
        response = self._send(
            "auth",
            "POST",
            "/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": self.app_id, "app_secret": self.app_secret},
        )
        body = _json(response)
        code = body.get("code")
        if code != 0 or not body.get("tenant_access_token"):
            raise FeishuError(plain_words(code, str(body.get("msg", ""))), code=code, status=response.status_code)
        return body["tenant_access_token"], int(body.get("expire") or 7200)

    def call(self, api: str, method: str, path: str, *, params=None, json=None) -> dict[str, Any]:
        """One API call; returns ``data``. An invalid-token answer refreshes the token once."""
        for attempt in range(2):
            token = self.tokens.get()
            headers = {"Authorization": f"Bearer {token}"}
            response = self._send(api, method, path, params=params, json=json, headers=headers)
            body = _json(response)
            code = body.get("code")
            if code == 0 and response.status_code < 400:
                return body.get("data") or {}
            if code in INVALID_TOKEN_CODES and attempt == 0:
                self.tokens.invalidate(stale=token)  # unless a concurrent call replaced it already
                continue
            message = str(body.get("msg", "")) or f"HTTP {response.status_code}"
            raise FeishuError(plain_words(code, message), code=code, status=response.status_code)
        raise AssertionError("unreachable")

    def pages(self, api: str, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paged GET (``data.items``, ``data.has_more``, ``data.page_token``)."""
        params = dict(params, page_size=PAGE_SIZE)
        while True:
            data = self.call(api, "GET", path, params=params)
            yield from data.get("items") or []
            if not data.get("has_more") or not data.get("page_token"):
                return
            params["page_token"] = data["page_token"]


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"code": None, "msg": f"HTTP {response.status_code}: not JSON"}
    return body if isinstance(body, dict) else {"code": None, "msg": "not a JSON object"}


def _limited(response: requests.Response) -> float | None:
    """Seconds to wait when Feishu limited us (HTTP 429, or code 99991400 under any status)."""
    hint = reset_hint(response, "x-ogw-ratelimit-reset", "Retry-After")
    if response.status_code == 429:
        return hint if hint is not None else 1.0
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
        try:
            if response.json().get("code") == RATE_LIMITED:
                return hint if hint is not None else 1.0
        except ValueError:
            return None
    return None
