"""Template context shared by every page: the navigation for the signed-in person's roles."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from org.choices import Role
from org.selectors import user_roles

# (url name, label, icon, roles that see it; empty = everyone signed in). Later issues append here.
NAVIGATION: list[tuple[str, object, str, set[str]]] = [
    ("home", _("Home"), "house", set()),
    ("reimbursement:my_claims", _("My claims"), "receipt", set()),
    ("approvals:inbox", _("Approvals"), "check2-square", set()),
    ("approvals:notifications", _("Notifications"), "bell", set()),
    ("org:directory", _("Directory"), "diagram-3", set()),
    ("finance:queue", _("Finance"), "cash-coin", {Role.FINANCE}),
    ("dashboards:index", _("Dashboards"), "bar-chart-line", {Role.FINANCE, Role.AUDITOR}),
    ("reports:index", _("Reports"), "clipboard-data", {Role.FINANCE, Role.AUDITOR}),
    ("rules:index", _("Routing rules"), "signpost-split", {Role.ADMIN}),
    ("admin:index", _("Administration"), "gear", {Role.ADMIN}),
    ("oa_ops:overview", _("OA bridge"), "plug", {Role.ADMIN}),
    # The built-in OA only where it is switched on (BAOXIAO_OA_SANDBOX; off in production by default).
    *([("oa_sandbox:inbox", _("OA sandbox"), "inbox", {Role.ADMIN})] if settings.BAOXIAO_OA_SANDBOX else []),
]


def _pending_approvals(user: Any) -> int:
    from approvals.views.common import pending_task_count

    return pending_task_count(user)  # zero for an account outside the org chart


def _unread_notifications(user: Any) -> int:
    from approvals.views.common import unread_notification_count

    return unread_notification_count(user)


# Numbers shown beside an entry (nothing when zero), each one COUNT query, run only when the menu is
# rendered: HTMX partials get this context too and should not pay for it.
BADGES: dict[str, Callable[[Any], int]] = {
    "approvals:inbox": _pending_approvals,
    "approvals:notifications": _unread_notifications,
}


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": set()}
    roles = user_roles(user)
    items = []
    for url_name, label, icon, needs in NAVIGATION:
        if needs and not (needs & roles):
            continue
        url = reverse(url_name)
        active = request.path == url if url_name == "home" else request.path.startswith(url)
        badge = SimpleLazyObject(partial(BADGES[url_name], user)) if url_name in BADGES else None
        items.append({"url": url, "label": label, "icon": icon, "active": active, "badge": badge})
        # Entries for administrators only go into one "Admin" menu: a wide screen has room for the rest.
        items[-1]["admin"] = needs == {Role.ADMIN}
    # Nested URLs (/approvals/ and /approvals/notifications/): only the most specific entry is current.
    current = [item for item in items if item["active"]]
    if len(current) > 1:
        most_specific = max(current, key=lambda item: len(item["url"]))
        for item in current:
            item["active"] = item is most_specific
    return {"nav_items": items, "nav_admin_items": [item for item in items if item["admin"]], "user_roles": roles}
