"""Everything under /api/: versioned endpoints of each app, token sign-in, the OpenAPI schema and docs."""

from django.urls import include, path

urlpatterns = [
    path("v1/", include("reimbursement.api.urls")),
]
