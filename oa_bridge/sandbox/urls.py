from django.urls import path

from oa_bridge.sandbox import views

app_name = "oa_sandbox"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("events/<int:pk>/decide/", views.decide, name="decide"),
    path("directory/", views.directory, name="directory"),
    path("webhook/", views.webhook, name="webhook"),
    path("api/departments/", views.api_departments, name="api_departments"),
    path("api/users/", views.api_users, name="api_users"),
    path("api/users/<str:external_id>/", views.api_user, name="api_user"),
]
