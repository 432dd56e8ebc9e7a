from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from approvals import models, notifications, subscribers  # noqa: F401 - registers the subscribers
        from approvals.selectors import claims_with_tasks_q
        from reimbursement.selectors import register_visibility

        register_visibility(claims_with_tasks_q)
        for model in (models.RuleSet, models.RoutingRule, models.RoutingStep, models.MatrixEntry, models.Delegation):
            auditlog.register(model)
