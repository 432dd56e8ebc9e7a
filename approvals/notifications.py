"""In-app notifications and emails for the claimant and the approvers.

Rows are written in the transaction of the event; emails are sent after commit, so a rolled-back
action never mails anybody.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from approvals.models import Notification
from config.domain_events import DomainEvent, subscribe
from org.models import Employee


def _notify(employee: Employee | None, event: DomainEvent, message: str, url: str) -> None:
    if employee is None or not employee.active:
        return
    Notification.objects.create(
        recipient_id=employee.user_id, claim=event.subject, verb=event.name, message=message[:300], url=url
    )
    email = employee.user.email
    if email:
        link = f"{settings.BAOXIAO_BASE_URL}{url}"
        transaction.on_commit(
            lambda: send_mail(message[:150], f"{message}\n\n{link}", None, [email], fail_silently=True)
        )


@subscribe(
    "claim.submitted",
    "claim.resubmitted",
    "claim.approved",
    "claim.rejected",
    "claim.returned",
    "claim.paid",
    "approval.task.created",
    "approval.task.reminded",
)
def notify(event: DomainEvent) -> None:
    claim = event.subject
    claim_url = reverse("reimbursement:detail", args=[claim.pk])
    values = {
        "number": claim.number,
        "amount": f"{claim.total_amount} {claim.base_currency}",
        "claimant": claim.claimant.name,
        "reason": event.data.get("reason", ""),
    }
    with translation.override(settings.LANGUAGE_CODE):
        if event.name in ("approval.task.created", "approval.task.reminded"):
            assignee = Employee.objects.select_related("user").filter(pk=event.data.get("assignee_id")).first()
            template = (
                _("%(claimant)s's claim %(number)s (%(amount)s) waits for your approval.")
                if event.name == "approval.task.created"
                else _("Reminder: claim %(number)s (%(amount)s) still waits for your approval.")
            )
            _notify(assignee, event, template % values, reverse("approvals:inbox"))
            return
        messages = {
            "claim.submitted": _("Your claim %(number)s (%(amount)s) was submitted."),
            "claim.resubmitted": _("Your claim %(number)s (%(amount)s) was resubmitted."),
            "claim.approved": _("Your claim %(number)s (%(amount)s) was approved."),
            "claim.rejected": _("Your claim %(number)s was rejected: %(reason)s"),
            "claim.returned": _("Your claim %(number)s was returned for changes: %(reason)s"),
            "claim.paid": _("Your claim %(number)s (%(amount)s) was paid."),
        }
        _notify(claim.claimant, event, messages[event.name] % values, claim_url)
