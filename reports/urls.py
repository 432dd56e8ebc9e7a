"""Report pages, mounted at /reports/."""

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index_view, name="index"),
    path("claim-lines/", views.lines_view, name="lines"),
    path("exports/<uuid:job_uuid>/", views.export_view, name="export"),
    path("exports/<uuid:job_uuid>/download/", views.export_download_view, name="export_download"),
    path("<slug:slug>/", views.report_view, name="report"),
]
