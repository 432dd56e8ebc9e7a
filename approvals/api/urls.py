"""/api/v1/ endpoints of approvals: the inbox and history, tasks and their decisions, comments on claims,
delegations, and (for administrators) routing rules."""

from django.urls import path

from approvals.api import routing_views, views

TASK = "approval-tasks/<int:task_id>/"
RULE_SET = "routing/rule-sets/<int:rule_set_id>/"

urlpatterns = [
    path("approvals/inbox/", views.InboxView.as_view(), name="api-approvals-inbox"),
    path("approvals/history/", views.HistoryView.as_view(), name="api-approvals-history"),
    path("approvals/delegations/", views.DelegationListView.as_view(), name="api-delegation-list"),
    path(
        "approvals/delegations/<int:delegation_id>/end/",
        views.DelegationEndView.as_view(),
        name="api-delegation-end",
    ),
    path("approval-tasks/bulk-approve/", views.BulkApproveView.as_view(), name="api-task-bulk-approve"),
    path(TASK, views.TaskDetailView.as_view(), name="api-task-detail"),
    path(f"{TASK}approve/", views.TaskApproveView.as_view(), name="api-task-approve"),
    path(f"{TASK}reject/", views.TaskRejectView.as_view(), name="api-task-reject"),
    path(f"{TASK}return/", views.TaskReturnView.as_view(), name="api-task-return"),
    path(f"{TASK}transfer/", views.TaskTransferView.as_view(), name="api-task-transfer"),
    path(f"{TASK}add-approver/", views.TaskAddApproverView.as_view(), name="api-task-add-approver"),
    path(f"{TASK}cut-line/", views.TaskCutLineView.as_view(), name="api-task-cut-line"),
    path("claims/<int:claim_id>/comments/", views.ClaimCommentView.as_view(), name="api-claim-comments"),
    path("routing/rule-sets/", routing_views.RuleSetListView.as_view(), name="api-rule-set-list"),
    path("routing/rule-sets/draft/", routing_views.RuleSetDraftView.as_view(), name="api-rule-set-draft"),
    path(RULE_SET, routing_views.RuleSetDetailView.as_view(), name="api-rule-set-detail"),
    path(f"{RULE_SET}rules/", routing_views.RuleAddView.as_view(), name="api-rule-set-rules"),
    path(f"{RULE_SET}publish/", routing_views.RuleSetPublishView.as_view(), name="api-rule-set-publish"),
    path("routing/simulate/", routing_views.SimulateView.as_view(), name="api-routing-simulate"),
]
