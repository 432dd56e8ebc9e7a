"""Template context shared by every page: the navigation for the signed-in person's roles."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from org.choices import Role
from org.selectors import user_roles

# (url name, label, icon, roles that see it; empty = everyone signed in). Later issues append here.
NAVIGATION: list[tuple[str, object, str, set[str]]] = [
    ("home", _("Home"), "house", set()),
    ("org:directory", _("Directory"), "diagram-3", set()),
    ("admin:index", _("Administration"), "gear", {Role.ADMIN}),
]


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
        items.append({"url": url, "label": label, "icon": icon, "active": active})
    return {"nav_items": items, "user_roles": roles}
