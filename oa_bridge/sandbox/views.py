"""The OA sandbox's pages and APIs, under /oa-sandbox/ (only when BAOXIAO_OA_SANDBOX is on)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from oa_bridge.credentials import get_credentials
from oa_bridge.models import Connector, ConnectorKind, SandboxDepartment, SandboxInboxEvent, SandboxUser
from oa_bridge.sandbox.client import send_to_baoxiao
from oa_bridge.sandbox.receiver import sandbox_receive
from org.choices import Role
from org.selectors import user_roles

PAGE_SIZE_MAX = 500


def _connector() -> Connector:
    if not settings.BAOXIAO_OA_SANDBOX:
        raise Http404
    connector = Connector.objects.filter(kind=ConnectorKind.SANDBOX).order_by("pk").first()
    if connector is None:
        raise Http404
    return connector


def _admin_only(request: HttpRequest) -> Connector:
    if not request.user.is_authenticated or Role.ADMIN not in user_roles(request.user):
        raise Http404
    return _connector()


# --- the sandbox as a receiver of Baoxiao's events --------------------------------------------------------
@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    status, answer = sandbox_receive(
        connector=_connector(), headers={k.lower(): v for k, v in request.headers.items()}, raw=request.body
    )
    return JsonResponse({"result": answer}, status=status)


# --- the sandbox's directory API (the generic connector's contract) -------------------------------------
def _check_token(request: HttpRequest, connector: Connector) -> JsonResponse | None:
    expected = get_credentials(connector).get("api_token", "")
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(offered.encode(), expected.encode()):
        return JsonResponse({"detail": "invalid token"}, status=401)
    return None


def _page(request: HttpRequest, queryset, serialize) -> JsonResponse:
    try:
        number = max(1, int(request.GET.get("page", 1)))
        size = min(PAGE_SIZE_MAX, max(1, int(request.GET.get("page_size", 200))))
    except ValueError:
        return JsonResponse({"detail": "page and page_size are numbers"}, status=400)
    since = request.GET.get("updated_since")
    if since:
        from django.utils.dateparse import parse_datetime

        moment = parse_datetime(since)
        if moment is None:
            return JsonResponse({"detail": "updated_since is an ISO 8601 time"}, status=400)
        queryset = queryset.filter(updated_at__gt=moment)
    total = queryset.count()
    start = (number - 1) * size
    items = [serialize(row) for row in queryset.order_by("pk")[start : start + size]]
    following = None
    if start + size < total:
        query = request.GET.copy()
        query["page"] = str(number + 1)
        following = f"?{query.urlencode()}"
    return JsonResponse({"count": total, "next": following, "results": items})


def _department_json(d: SandboxDepartment) -> dict:
    return {
        "id": d.external_id,
        "name": d.name,
        "parent_id": d.parent_external_id or None,
        "head_id": d.head_external_id or None,
        "active": d.active,
    }


def _user_json(u: SandboxUser) -> dict:
    return {
        "id": u.external_id,
        "name": u.name,
        "email": u.email,
        "employee_no": u.employee_no,
        "department_id": u.department_external_id or None,
        "manager_id": u.manager_external_id or None,
        "title": u.title,
        "level": u.level,
        "active": u.active,
    }


@require_GET
def api_departments(request: HttpRequest) -> JsonResponse:
    connector = _connector()
    return _check_token(request, connector) or _page(request, SandboxDepartment.objects.all(), _department_json)


@require_GET
def api_users(request: HttpRequest) -> JsonResponse:
    connector = _connector()
    return _check_token(request, connector) or _page(request, SandboxUser.objects.all(), _user_json)


@require_GET
def api_user(request: HttpRequest, external_id: str) -> JsonResponse:
    connector = _connector()
    denied = _check_token(request, connector)
    if denied:
        return denied
    user = SandboxUser.objects.filter(external_id=external_id).first()
    return JsonResponse(_user_json(user)) if user else JsonResponse({"detail": "not found"}, status=404)


# --- the sandbox's own pages ----------------------------------------------------------------------------
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Every event received, with its signature check, and decision buttons on open task events."""
    connector = _admin_only(request)
    page = Paginator(SandboxInboxEvent.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "oa_bridge/sandbox/inbox.html", {"connector": connector, "page": page})


@login_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Send an approve/reject decision for a task event back to Baoxiao, signed, as its assignee."""
    connector = _admin_only(request)
    event = get_object_or_404(SandboxInboxEvent, pk=pk, task_id__isnull=False)
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        messages.error(request, _("Choose approve or reject."))
        return redirect("oa_sandbox:inbox")
    comment = request.POST.get("comment", "").strip() or (_("Approved in the OA") if decision == "approve" else "")
    if decision == "reject" and not comment:
        comment = _("Rejected in the OA")
    status, answer = send_to_baoxiao(
        connector,
        "com.baoxiao.approval.decision",
        {"task_id": event.task_id, "decision": decision, "approver": event.assignee_external_id, "comment": comment},
    )
    event.decision, event.decision_result = decision, f"{status}: {answer}"[:300]
    event.save(update_fields=["decision", "decision_result"])
    (messages.success if status and status < 300 else messages.error)(
        request, _("Baoxiao answered %(status)s: %(answer)s") % {"status": status or "—", "answer": answer}
    )
    return redirect("oa_sandbox:inbox")


@login_required
def directory(request: HttpRequest) -> HttpResponse:
    """The sandbox's org chart: what a directory sync pulls. People can be edited to try a sync."""
    connector = _admin_only(request)
    if request.method == "POST":
        user = get_object_or_404(SandboxUser, pk=request.POST.get("user"))
        user.title = request.POST.get("title", user.title)[:200]
        user.active = request.POST.get("active") == "on"
        manager = request.POST.get("manager_external_id", "").strip()
        if manager and not SandboxUser.objects.filter(external_id=manager).exists():
            messages.error(request, _("No person with id %(id)s.") % {"id": manager})
            return redirect("oa_sandbox:directory")
        user.manager_external_id = manager
        user.save()
        status, answer = send_to_baoxiao(connector, "com.baoxiao.directory.user.changed", {"id": user.external_id})
        messages.info(
            request,
            _("Saved; Baoxiao was told and answered %(status)s: %(answer)s")
            % {"status": status or "—", "answer": answer},
        )
        return redirect("oa_sandbox:directory")
    context = {
        "connector": connector,
        "departments": SandboxDepartment.objects.all(),
        "users": SandboxUser.objects.order_by("department_external_id", "-level", "name"),
    }
    return render(request, "oa_bridge/sandbox/directory.html", context)
