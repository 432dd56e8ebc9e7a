"""The OA bridge's operations screen, mounted at /oa/admin/ops/ (before the inbound /oa/<connector>/ URLs)."""

from django.urls import path

from oa_bridge import views_ops

app_name = "oa_ops"

urlpatterns = [
    path("", views_ops.overview, name="overview"),
    path("events/", views_ops.events, name="events"),
    path("events/<uuid:pk>/", views_ops.event_detail, name="event"),
    path("events/<uuid:pk>/replay/", views_ops.event_replay, name="event_replay"),
    path("replay/", views_ops.replay_failed, name="replay_failed"),
    path("connectors/<int:pk>/pause/", views_ops.connector_pause, name="connector_pause"),
    path("connectors/<int:pk>/test/", views_ops.connector_test, name="connector_test"),
    path("connectors/<int:pk>/settings/", views_ops.connector_settings, name="connector_settings"),
    path("connectors/new/<slug:kind>/", views_ops.connector_settings, name="connector_new"),
]
