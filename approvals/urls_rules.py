"""Routing-rule administration pages, mounted at /approvals/rules/."""

from django.urls import path  # noqa: F401

app_name = "rules"

urlpatterns: list = []
