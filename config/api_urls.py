"""Everything under /api/: versioned endpoints of each app, token sign-in, the OpenAPI schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api import TokenView

urlpatterns = [
    path("v1/auth/token/", TokenView.as_view(), name="api-token"),
    path("v1/", include("reimbursement.api.urls")),
    path("v1/", include("approvals.api.urls")),
    path("v1/", include("reimbursement.payments.api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from a URL instead of inline, as the CSP requires.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="baoxiao/swagger_ui.html"),
        name="api-docs",
    ),
]
