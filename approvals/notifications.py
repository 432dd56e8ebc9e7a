"""In-app notifications and emails for the claimant and the approvers.

Rows are written in the transaction of the event; emails are sent after commit, so a rolled-back
action never mails anybody. A row keeps its verb and values, so the notification centre shows it in the
reader's language; the email goes out in the server's language (users have no stored language).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from approvals.models import Notification
from config.domain_events import DomainEvent, subscribe
from org.models import Employee

MESSAGES = {
    "approval.task.created": _("%(claimant)s's claim %(number)s (%(amount)s) waits for your approval."),
    "approval.task.reminded": _("Reminder: claim %(number)s (%(amount)s) still waits for your approval."),
    "claim.submitted": _("Your claim %(number)s (%(amount)s) was submitted."),
    "claim.resubmitted": _("Your claim %(number)s (%(amount)s) was resubmitted."),
    "claim.approved": _("Your claim %(number)s (%(amount)s) was approved."),
    "claim.rejected": _("Your claim %(number)s was rejected: %(reason)s"),
    "claim.returned": _("Your claim %(number)s was returned for changes: %(reason)s"),
    "claim.paid": _("Your claim %(number)s (%(amount)s) was paid."),
}
TASK_VERBS = ("approval.task.created", "approval.task.reminded")


def notification_text(verb: str, params: dict[str, Any]) -> str:
    """The verb's sentence in the active language; "" when the verb or a value is unknown."""
    template = MESSAGES.get(verb)
    if template is None or not params:
        return ""
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return ""


def _notify(employee: Employee | None, event: DomainEvent, params: dict[str, str], url: str) -> None:
    if employee is None or not employee.active:
        return
    with translation.override(settings.LANGUAGE_CODE):
        message = notification_text(event.name, params)
    Notification.objects.create(
        recipient_id=employee.user_id,
        claim=event.subject,
        verb=event.name,
        message=message[:300],
        params=params,
        url=url,
    )
    email = employee.user.email
    if email:
        link = f"{settings.BAOXIAO_BASE_URL}{url}"
        transaction.on_commit(
            lambda: send_mail(message[:150], f"{message}\n\n{link}", None, [email], fail_silently=True)
        )


@subscribe("claim.submitted", "claim.resubmitted", "claim.approved", "claim.rejected", "claim.returned", "claim.paid")
@subscribe(*TASK_VERBS)
def notify(event: DomainEvent) -> None:
    claim = event.subject
    params = {
        "number": claim.number,
        "amount": f"{claim.total_amount} {claim.base_currency}",
        "claimant": claim.claimant.name,
        "reason": str(event.data.get("reason", ""))[:200],
    }
    if event.name in TASK_VERBS:
        assignee = Employee.objects.select_related("user").filter(pk=event.data.get("assignee_id")).first()
        _notify(assignee, event, params, reverse("approvals:inbox"))
        return
    _notify(claim.claimant, event, params, reverse("reimbursement:detail", args=[claim.pk]))
