"""Approver pages, mounted at /approvals/."""

from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("bulk-approve/", views.bulk_approve, name="bulk_approve"),
    path("history/", views.history, name="history"),
    path("tasks/<int:task_id>/", views.task_detail, name="task"),
    path("tasks/<int:task_id>/preview/", views.task_preview, name="task_preview"),
    path("tasks/<int:task_id>/approve/", views.approve, name="task_approve"),
    path("tasks/<int:task_id>/reject/", views.reject, name="task_reject"),
    path("tasks/<int:task_id>/return/", views.return_claim, name="task_return"),
    path("tasks/<int:task_id>/transfer/", views.transfer, name="task_transfer"),
    path("tasks/<int:task_id>/add-approver/", views.add_approver, name="task_add_approver"),
    path("tasks/<int:task_id>/cut/", views.cut_line, name="task_cut"),
    path("tasks/<int:task_id>/comment/", views.comment, name="task_comment"),
    path("delegation/", views.delegation, name="delegation"),
    path("delegation/<int:delegation_id>/end/", views.delegation_stop, name="delegation_end"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_read"),
    path("notifications/<int:notification_id>/", views.notification_open, name="notification_open"),
]
