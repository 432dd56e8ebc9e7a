"""What the DingTalk and WeCom connectors share: the JSON API caller (token, client-side limit, back-off,
one retry on an invalid token), the replay window, which of our events become what in the OA, and where
the OA's ids for a to-do or card are found again (the delivery log, which survives restarts)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from oa_bridge.connectors.base import CONNECT_TIMEOUT, READ_TIMEOUT, DeliveryResult, _short, http_session
from oa_bridge.connectors.vendorkit import (
    RateLimit,
    RateLimiter,
    TokenCache,
    VendorError,
    VendorRateLimited,
    backoff_call,
    reset_hint,
)
from oa_bridge.models import Connector, DeliveryAttempt, OutboxEvent
from org.models import EmployeeExternalId

log = logging.getLogger(__name__)

REPLAY_WINDOW_SECONDS = 300
TASK_CREATED = "com.baoxiao.approval.task.created"
# Events after which a task's to-do / card is closed (the task is decided or went to someone else).
TASK_CLOSED = {
    "com.baoxiao.approval.task.decided",
    "com.baoxiao.approval.task.transferred",
    "com.baoxiao.approval.task.reassigned",
    "com.baoxiao.approval.task.escalated",
}
# What the claimant hears about, and in which words.
APPLICANT_NOTICES = {
    "com.baoxiao.claim.submitted": "submitted",
    "com.baoxiao.claim.resubmitted": "submitted",
    "com.baoxiao.claim.returned": "returned",
    "com.baoxiao.claim.approved": "approved",
    "com.baoxiao.claim.paid": "paid",
}
REF_CACHE_SECONDS = 30 * 24 * 3600


# --- calling a vendor's JSON API ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VendorRules:
    """How one vendor says "invalid token", "too many requests" and "no permission"."""

    invalid_token: frozenset[int | str]
    limited: frozenset[int | str]
    limited_words: tuple[str, ...] = ("qps", "too many", "busy", "frequency", "throttl")


class VendorApi:
    """Token, client-side limiter per API, back-off on limits, one fresh token on "invalid token"."""

    def __init__(
        self,
        connector: Connector,
        rules: VendorRules,
        fetch_token: Callable[[], tuple[str, int]],
        limits: dict[str, RateLimit],
        *,
        token_name: str = "app",  # noqa: S107 - a cache key part, not a secret
    ):
        self.connector = connector
        self.rules = rules
        self.tokens = TokenCache(f"{connector.kind}:{connector.pk}:{token_name}", fetch_token)
        self.limits = limits
        self.max_wait = float((connector.options or {}).get("limit_max_wait", 30))

    def limiter(self, api: str) -> RateLimiter:
        limit = self.limits.get(api) or self.limits.get("default") or RateLimit()
        return RateLimiter(f"{self.connector.kind}:{self.connector.pk}:{api}", limit, max_wait=self.max_wait)

    def call(self, api: str, send: Callable[[str], requests.Response]) -> dict[str, Any]:
        """``send(token)`` makes the request; the decoded answer, or VendorError / VendorRateLimited."""
        for attempt in range(2):
            token = self.tokens.get()

            def once(token: str = token) -> requests.Response:
                self.limiter(api).acquire()
                return send(token)

            response = backoff_call(once, self.limited_hint)
            body = decode(response)
            code = errcode(body)
            if code in self.rules.invalid_token and attempt == 0:
                log.info("%s: the vendor refused the access token (%s); fetching a new one", api, code)
                self.tokens.invalidate(stale=token)  # unless a concurrent call replaced it already
                continue
            if code not in (0, None) or response.status_code >= 400:
                message = errmsg(body) or f"HTTP {response.status_code}"
                raise VendorError(message, code=code, status=response.status_code)
            return body
        raise VendorError("the vendor refused two fresh access tokens", code="invalid_token")

    def limited_hint(self, response: requests.Response) -> float | None:
        """Seconds to wait when the answer says "too many requests" (its reset header, else 1 s)."""
        if response.status_code == 429:
            return reset_hint(response, "Retry-After", "X-RateLimit-Reset")
        body = decode(response)
        code = errcode(body)
        message = (errmsg(body) or "").lower()
        words = f"{message} {code}".lower()
        if code in self.rules.limited or (code not in (0, None) and any(w in words for w in self.rules.limited_words)):
            return reset_hint(response, "Retry-After", "X-RateLimit-Reset") or 1.0
        return None


def decode(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def errcode(body: dict[str, Any]) -> int | str | None:
    """The vendor's error code: ``errcode`` (and DingTalk's ``sub_code``), or the new API's ``code``."""
    sub = body.get("sub_code")
    if sub not in (None, "", "0", 0):
        try:
            return int(sub)
        except (TypeError, ValueError):
            return sub
    if "errcode" in body:
        try:
            return int(body["errcode"])
        except (TypeError, ValueError):
            return body["errcode"]
    return body.get("code")


def errmsg(body: dict[str, Any]) -> str:
    return str(body.get("sub_msg") or body.get("errmsg") or body.get("message") or "")


def get(url: str, *, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> requests.Response:
    return http_session().get(url, params=params, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))


def send(
    method: str,
    url: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json; charset=utf-8"} | (headers or {})
    return http_session().request(
        method, url, params=params, data=data, headers=all_headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
    )


# --- inbound ----------------------------------------------------------------------------------------------
def stale(timestamp: str, *, milliseconds: bool, now: float | None = None) -> bool:
    """True when the callback's timestamp is outside the replay window (or not a number)."""
    try:
        seconds = int(timestamp) / (1000 if milliseconds else 1)
    except (TypeError, ValueError):
        return True
    return abs((now or time.time()) - seconds) > REPLAY_WINDOW_SECONDS


# --- outbound ---------------------------------------------------------------------------------------------
def external_id(connector: Connector, employee_id: Any) -> str | None:
    if employee_id in (None, ""):
        return None
    return (
        EmployeeExternalId.objects.filter(connector=connector.slug, employee_id=employee_id)
        .values_list("external_id", flat=True)
        .first()
    )


def claimant_id(event: OutboxEvent) -> Any:
    return ((event.data or {}).get("claim") or {}).get("claimant", {}).get("id")


def change(event: OutboxEvent) -> dict[str, Any]:
    return (event.data or {}).get("change") or {}


def claim(event: OutboxEvent) -> dict[str, Any]:
    return (event.data or {}).get("claim") or {}


def task_url(task_id: Any) -> str:
    return f"{settings.BAOXIAO_BASE_URL}/approvals/tasks/{task_id}/"


def claim_url(claim_id: Any) -> str:
    return f"{settings.BAOXIAO_BASE_URL}/claims/{claim_id}/"


def task_title(event: OutboxEvent) -> str:
    data = claim(event)
    return _("Approve expense claim %(number)s: %(name)s, %(amount)s %(currency)s") % {
        "number": data.get("number", ""),
        "name": (data.get("claimant") or {}).get("name", ""),
        "amount": data.get("total_amount", ""),
        "currency": data.get("currency", ""),
    }


def applicant_text(event: OutboxEvent) -> tuple[str, str]:
    """(title, body) of the message to the claimant."""
    data, what = claim(event), APPLICANT_NOTICES[event.type]
    number = data.get("number", "")
    amount = f"{data.get('approved_amount') or data.get('total_amount', '')} {data.get('currency', '')}".strip()
    titles = {
        "submitted": _("Claim %(number)s submitted"),
        "returned": _("Claim %(number)s was returned to you"),
        "approved": _("Claim %(number)s approved"),
        "paid": _("Claim %(number)s paid"),
    }
    bodies = {
        "submitted": _("Your claim for %(amount)s is waiting for approval."),
        "returned": _("Please change it and submit it again. Reason: %(reason)s"),
        "approved": _("Your claim was approved: %(amount)s. Finance will pay it."),
        "paid": _("%(amount)s was paid to you."),
    }
    values = {"number": number, "amount": amount, "reason": change(event).get("reason", "")}
    return titles[what] % values, bodies[what] % values


def skipped(reason: str) -> DeliveryResult:
    """A 2xx for what this vendor does not send (nothing to retry)."""
    return DeliveryResult(204, 0, excerpt=f"skipped: {reason}"[:500])


def failed(exc: Exception, started: float) -> DeliveryResult:
    """A vendor failure as a delivery outcome: 429 retries later, 5xx / network retry, 4xx is held."""
    latency = int((time.perf_counter() - started) * 1000)
    if isinstance(exc, VendorRateLimited):
        retry = str(int(exc.retry_after)) if exc.retry_after else None
        return DeliveryResult(429, latency, error=_short(exc), retry_after=retry)
    if isinstance(exc, VendorError):
        status = exc.status if exc.status and exc.status >= 500 else 400
        if exc.code in (-1,):  # "system busy": try again later
            status = 503
        return DeliveryResult(status, latency, error=f"{exc.code}: {_short(exc)}"[:300])
    if isinstance(exc, requests.RequestException):
        return DeliveryResult(None, latency, error=_short(exc))
    raise exc


def delivered(started: float, ref: dict[str, Any]) -> DeliveryResult:
    return DeliveryResult(200, int((time.perf_counter() - started) * 1000), excerpt=json.dumps(ref)[:500])


def _ref_key(connector: Connector, task_id: Any) -> str:
    return f"oa-ref:{connector.pk}:task:{task_id}"


def remember(connector: Connector, task_id: Any, ref: dict[str, Any]) -> None:
    cache.set(_ref_key(connector, task_id), ref, timeout=REF_CACHE_SECONDS)


def recall(connector: Connector, task_id: Any) -> dict[str, Any] | None:
    """What the OA gave back when the task's to-do or card was created: from the cache, else from the
    delivery log (the excerpt of the delivered ``task.created`` attempt), so a restart loses nothing."""
    ref = cache.get(_ref_key(connector, task_id))
    if ref:
        return ref
    excerpts: Iterable[str] = (
        DeliveryAttempt.objects.filter(
            event__connector=connector,
            event__type=TASK_CREATED,
            event__data__change__task=task_id,
            outcome="delivered",
        )
        .order_by("-started_at")
        .values_list("response_excerpt", flat=True)[:3]
    )
    for excerpt in excerpts:
        try:
            ref = json.loads(excerpt)
        except ValueError:
            continue
        if isinstance(ref, dict) and not ref.get("skipped"):
            remember(connector, task_id, ref)
            return ref
    return None


def option(connector: Connector, name: str, default: Any) -> Any:
    value = (connector.options or {}).get(name)
    return default if value in (None, "") else value


def limit_from(connector: Connector, name: str, default: RateLimit) -> RateLimit:
    """A rate limit from the connector's settings ("20/s", "1500/min", "20/s,1500/min"), else the default."""
    text = str((connector.options or {}).get(name) or "").strip()
    if not text:
        return default
    per_second = per_minute = None
    for part in text.replace(" ", "").split(","):
        amount, _sep, unit = part.partition("/")
        try:
            number = int(amount)
        except ValueError:
            continue
        if unit.startswith("s"):
            per_second = number
        elif unit.startswith("m"):
            per_minute = number
    return RateLimit(per_second=per_second, per_minute=per_minute) if (per_second or per_minute) else default


# --- directory --------------------------------------------------------------------------------------------
def manager_of(
    user_id: str,
    explicit: str | None,
    department: str | None,
    heads: dict[str, list[str]],
    parents: dict[str, str | None],
) -> str | None:
    """The explicit manager first, then the head of the person's department, then up the tree (a head's
    manager is the head of the department above)."""
    if explicit and explicit != user_id:
        return explicit
    seen: set[str] = set()
    node = department
    while node and node not in seen:
        seen.add(node)
        node_heads = [h for h in heads.get(node, []) if h]
        if node_heads and user_id not in node_heads:  # a head's manager is found one level up
            return node_heads[0]
        node = parents.get(node)
    return None
