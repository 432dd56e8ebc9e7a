"""/api/v1/ endpoints of claims, lines, files and categories."""

from django.urls import path

from reimbursement.api import line_views, views

LINE = "claims/<int:claim_id>/lines/<int:line_id>/"

urlpatterns = [
    path("claims/", views.ClaimListView.as_view(), name="api-claim-list"),
    path("claims/<int:claim_id>/", views.ClaimDetailView.as_view(), name="api-claim-detail"),
    path("claims/<int:claim_id>/preflight/", views.ClaimPreflightView.as_view(), name="api-claim-preflight"),
    path("claims/<int:claim_id>/submit/", views.ClaimSubmitView.as_view(), name="api-claim-submit"),
    path("claims/<int:claim_id>/withdraw/", views.ClaimWithdrawView.as_view(), name="api-claim-withdraw"),
    path("claims/<int:claim_id>/lines/", line_views.LineListView.as_view(), name="api-line-list"),
    path(LINE, line_views.LineDetailView.as_view(), name="api-line-detail"),
    path(f"{LINE}attachments/", line_views.AttachmentListView.as_view(), name="api-attachment-list"),
    path(
        f"{LINE}attachments/<int:attachment_id>/",
        line_views.AttachmentDetailView.as_view(),
        name="api-attachment-detail",
    ),
    path(
        f"{LINE}attachments/<int:attachment_id>/download/",
        line_views.AttachmentDownloadView.as_view(),
        name="api-attachment-download",
    ),
    path("categories/", views.CategoryListView.as_view(), name="api-category-list"),
]
