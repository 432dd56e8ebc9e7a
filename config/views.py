"""Project-level views: health check and error pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.health import outbox_figures, run_checks, worker_heartbeat_age


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part is up ("degraded" when OA events wait too long); 503 naming the failing parts
    otherwise. No sign-in needed."""
    ok, checks = run_checks()
    failing = sorted(name for name, result in checks.items() if not result["ok"])
    body = {"status": "ok" if ok else "down", "failing": failing, "checks": checks}
    if checks["database"]["ok"]:
        body["outbox"] = outbox_figures()
        if ok and body["outbox"].get("degraded"):
            body["status"] = "degraded"  # still 200: the web process is fine, the OA is behind
    if settings.REDIS_URL:
        body["worker_heartbeat_age_s"] = worker_heartbeat_age()
    return JsonResponse(body, status=200 if ok else 503)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: under /api/ an unknown address answers in the API's one error shape (a client reading
    JSON would choke on the HTML page); everywhere else Django's page from templates/404.html."""
    if request.path.startswith("/api/"):
        body = {"error": {"code": "not_found", "message": _("Not found."), "fields": {}}}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)
