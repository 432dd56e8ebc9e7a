from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views
from org import views as org_views

urlpatterns = [
    path("", org_views.home, name="home"),
    path("org/", include("org.urls")),
    path("claims/", include("reimbursement.urls")),
    path("approvals/rules/", include("approvals.urls_rules")),
    path("approvals/", include("approvals.urls")),
    path("finance/", include("reimbursement.payments.urls")),
    path("dashboards/", include("reimbursement.dashboards.urls")),
    path("reports/", include("reports.urls")),
    path("api/", include("config.api_urls")),
    path("oa/admin/ops/", include("oa_bridge.urls_ops")),
    path("oa/admin/sync/", include("oa_bridge.urls_sync")),
    path("oa/", include("oa_bridge.urls_inbound")),
    path("oa-sandbox/", include("oa_bridge.sandbox.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, extra_context={"lockout_limit": settings.AXES_FAILURE_LIMIT}
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]

handler404 = "config.views.page_not_found"

admin.site.site_header = "Baoxiao"
admin.site.site_title = "Baoxiao"
