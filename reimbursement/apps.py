from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReimbursementConfig(AppConfig):
    name = "reimbursement"
    verbose_name = _("Reimbursement")
