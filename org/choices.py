from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Roles are Django groups of these names; approvers are whoever a task is assigned to."""

    EMPLOYEE = "employee", _("Employee")
    FINANCE = "finance", _("Finance")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Administrator")
