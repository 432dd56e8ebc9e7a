"""The approver's pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from approvals.selectors import inbox_tasks


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """My pending tasks and those delegated to me, oldest due first."""
    tasks = inbox_tasks(request.user).order_by("due_at", "id")
    return render(request, "approvals/inbox.html", {"tasks": tasks})
