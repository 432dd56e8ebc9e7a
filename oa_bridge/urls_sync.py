"""The directory sync screen, mounted at /oa/admin/sync/."""

from django.urls import path

from oa_bridge import views_sync

app_name = "oa_sync"

urlpatterns = [
    path("", views_sync.index, name="index"),
    path("runs/<int:pk>/", views_sync.run_detail, name="run"),
    path("runs/<int:pk>/confirm/", views_sync.confirm, name="confirm"),
    path("<slug:slug>/", views_sync.connector_runs, name="connector"),
    path("<slug:slug>/sync/", views_sync.sync_now, name="sync_now"),
]
