"""Finance dashboards, mounted at /dashboards/."""

from django.urls import path

from reimbursement.dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("", views.dashboard_view, name="index"),
    path("claims/", views.claims_view, name="claims"),
]
