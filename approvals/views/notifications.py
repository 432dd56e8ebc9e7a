"""The notification centre: what happened to my claims and what waits for me."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from approvals.views.common import notifications_of

PAGE_SIZE = 30


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """Newest first, the unread ones highlighted."""
    page = Paginator(notifications_of(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    unread = notifications_of(request.user).filter(read_at__isnull=True).count()
    return render(request, "approvals/notifications.html", {"page": page, "unread": unread})


@login_required
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification to what it is about, marking it read on the way."""
    notification = notifications_of(request.user).filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    if notification.read_at is None:
        # Reading a notification is not a business change: no audit event, no service.
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "approvals:notifications"
    return redirect(target)


@login_required
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    """Mark every unread notification of mine read."""
    count = notifications_of(request.user).filter(read_at__isnull=True).update(read_at=timezone.now())
    if count:
        messages.success(
            request,
            ngettext("%(n)d notification marked read.", "%(n)d notifications marked read.", count) % {"n": count},
        )
    else:
        messages.info(request, _("Nothing was unread."))
    return redirect("approvals:notifications")
