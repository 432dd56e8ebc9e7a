from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReimbursementConfig(AppConfig):
    name = "reimbursement"
    verbose_name = _("Reimbursement")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from reimbursement import models

        # Field-level change history (django-auditlog); transitions have their own AuditEvent rows.
        auditlog.register(models.Claim, exclude_fields=["last_submitted_snapshot", "changes_since_last_submission"])
        auditlog.register(models.ClaimLine)
        auditlog.register(models.ExpenseCategory)
        auditlog.register(models.PolicyRule)
        auditlog.register(models.FxRate)
        auditlog.register(
            models.PayeeAccount,
            exclude_fields=["account_number_encrypted", "id_number_encrypted", "account_number_index"],
        )

        # Finance sees every submitted claim (issue 6: the payment queue, batches and exports).
        from reimbursement.payments.selectors import finance_sees_submitted_claims
        from reimbursement.selectors import register_visibility

        register_visibility(finance_sees_submitted_claims)

        # Auditors read submitted claims: all of them, or their granted departments' (reimbursement/auditor.py).
        from reimbursement.auditor import auditor_claims_q

        register_visibility(auditor_claims_q)
