from django.db import models
from django.utils.translation import gettext_lazy as _


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class StepKind(models.TextChoices):
    DIRECT_MANAGER = "direct_manager", _("Direct manager")
    MANAGER_LEVEL = "manager_level", _("Manager N levels up")
    DEPARTMENT_HEAD = "department_head", _("Department head")
    ROLE = "role", _("Role")
    NAMED = "named", _("Named person")
    MATRIX = "matrix", _("Approval matrix")


class StepMode(models.TextChoices):
    ANY = "any", _("Any one approver")
    ALL = "all", _("All approvers")


class ReturnPolicy(models.TextChoices):
    RESTART = "restart", _("Restart from the first step")
    RESUME = "resume", _("Resume at the step that returned it")


class FlowStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


class StepStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    ACTIVE = "active", _("Active")
    APPROVED = "approved", _("Approved")
    SKIPPED = "skipped", _("Skipped")
    CLOSED = "closed", _("Closed")


class TaskStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")  # its step is not active yet, or an added approver goes first
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RETURNED = "returned", _("Returned")
    TRANSFERRED = "transferred", _("Transferred")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_TASK_STATUSES = frozenset({TaskStatus.WAITING, TaskStatus.PENDING})
DECIDED_TASK_STATUSES = frozenset({TaskStatus.APPROVED, TaskStatus.REJECTED, TaskStatus.RETURNED})


class DecisionChannel(models.TextChoices):
    WEB = "web", _("Web")
    API = "api", _("API")
    OA = "oa", _("OA")
    SYSTEM = "system", _("System")
