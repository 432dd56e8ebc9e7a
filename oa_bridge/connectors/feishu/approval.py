"""Feishu third-party approval (三方审批): Baoxiao stays the engine, Feishu's approval centre mirrors it.

Each delivery pushes the claim's *current* state as a full instance snapshot (``update_mode=UPDATE``,
``update_time`` = now in ms), so a retried or late event never rolls Feishu back: Feishu applies a
snapshot only when its ``update_time`` grows, and every later push carries newer data and a newer time.
The instance id is the claim number; each task is our approval task id, which the quick-approve
callback names back. People are matched by their Feishu ``open_id`` (EmployeeExternalId rows).
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from org.models import EmployeeExternalId
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim

INSTANCE_STATUS = {
    ClaimStatus.SUBMITTED: "PENDING",
    ClaimStatus.IN_APPROVAL: "PENDING",
    ClaimStatus.RETURNED: "PENDING",
    ClaimStatus.APPROVED: "APPROVED",
    ClaimStatus.PAYING: "APPROVED",
    ClaimStatus.PAID: "APPROVED",
    ClaimStatus.REJECTED: "REJECTED",
    ClaimStatus.WITHDRAWN: "CANCELED",
    ClaimStatus.VOIDED: "TERMINATED",
}
TASK_STATUS = {
    TaskStatus.PENDING: "PENDING",
    TaskStatus.APPROVED: "APPROVED",
    TaskStatus.REJECTED: "REJECTED",
    TaskStatus.RETURNED: "DONE",
    TaskStatus.TRANSFERRED: "TRANSFERRED",
    TaskStatus.CANCELLED: "DONE",
}
# Our events after which the applicant gets a Feishu message.
APPLICANT_MESSAGES = {
    "com.baoxiao.claim.submitted",
    "com.baoxiao.claim.resubmitted",
    "com.baoxiao.claim.returned",
    "com.baoxiao.claim.approved",
    "com.baoxiao.claim.paid",
}
# Our events that change nothing Feishu shows.
NOT_MIRRORED = {"com.baoxiao.approval.task.reminded", "com.baoxiao.claim.commented"}


def ms(moment) -> int:
    return int(moment.timestamp() * 1000) if moment else 0


def absolute(path: str) -> str:
    return settings.BAOXIAO_BASE_URL + path


def definition_body(*, approval_code: str, name: str, callback_url: str, token: str, key: str) -> dict[str, Any]:
    create = absolute(reverse("reimbursement:new"))
    return {
        "approval_name": "@i18n@approval_name",
        "approval_code": approval_code,
        "group_code": "baoxiao",
        "group_name": "@i18n@group_name",
        "external": {
            "biz_name": "@i18n@biz_name",
            "create_link_pc": create,
            "create_link_mobile": create,
            "support_pc": True,
            "support_mobile": True,
            "support_batch_read": False,
            "enable_quick_operate": True,
            "action_callback_url": callback_url,
            "action_callback_token": token,
            "action_callback_key": key,
        },
        "viewers": [{"viewer_type": "TENANT"}],
        "i18n_resources": _i18n({"approval_name": name, "group_name": "Baoxiao", "biz_name": name}),
    }


def _i18n(texts: dict[str, str]) -> list[dict[str, Any]]:
    entries = [{"key": f"@i18n@{key}", "value": value or "-"} for key, value in texts.items()]
    return [
        {"locale": "zh-CN", "is_default": True, "texts": entries},
        {"locale": "en-US", "is_default": False, "texts": entries},
    ]


def open_ids(slug: str, employee_ids: set[int]) -> dict[int, str]:
    rows = EmployeeExternalId.objects.filter(connector=slug, employee_id__in=employee_ids)
    return dict(rows.values_list("employee_id", "external_id"))


def instance_body(*, claim: Claim, slug: str, approval_code: str, now_ms: int | None = None) -> dict[str, Any] | None:
    """The claim's current state as a Feishu instance; None when the claimant has no Feishu id."""
    now_ms = now_ms or int(time.time() * 1000)
    tasks = list(ApprovalTask.objects.filter(claim=claim).select_related("step", "assignee").order_by("pk"))
    ids = open_ids(slug, {claim.claimant_id} | {task.assignee_id for task in tasks})
    applicant = ids.get(claim.claimant_id)
    if applicant is None:
        return None
    link = absolute(reverse("reimbursement:detail", args=[claim.pk]))
    texts = {
        "title": f"{_('Expense claim')} {claim.number}",
        "purpose": _("Purpose"),
        "purpose_value": claim.purpose,
        "amount": _("Amount"),
        "amount_value": f"{claim.total_amount} {claim.base_currency}",
        "department": _("Department"),
        "department_value": claim.department_name,
        "approve": _("Approve"),
        "reject": _("Reject"),
    }
    task_list = []
    for task in tasks:
        status = TASK_STATUS.get(task.status)
        open_id = ids.get(task.assignee_id)
        if status is None or open_id is None:  # a waiting task, or an approver outside Feishu
            continue
        texts[f"task_{task.pk}"] = task.step.name or _("Approval")
        task_link = absolute(reverse("approvals:task", args=[task.pk]))
        entry = {
            "task_id": str(task.pk),
            "open_id": open_id,
            "title": f"@i18n@task_{task.pk}",
            "links": {"pc_link": task_link, "mobile_link": task_link},
            "status": status,
            "create_time": ms(task.activated_at or task.created_at),
            "end_time": ms(task.decided_at) if status != "PENDING" else 0,
            "update_time": now_ms,
        }
        if status == "PENDING":
            entry["action_configs"] = [
                {"action_type": "APPROVE", "action_name": "@i18n@approve", "is_need_reason": False},
                {"action_type": "REJECT", "action_name": "@i18n@reject", "is_need_reason": True},
            ]
        task_list.append(entry)
    status = INSTANCE_STATUS.get(claim.status, "PENDING")
    return {
        "approval_code": approval_code,
        "instance_id": claim.number,
        "status": status,
        "title": "@i18n@title",
        "form": [
            {"name": "@i18n@purpose", "value": "@i18n@purpose_value"},
            {"name": "@i18n@amount", "value": "@i18n@amount_value"},
            {"name": "@i18n@department", "value": "@i18n@department_value"},
        ],
        "links": {"pc_link": link, "mobile_link": link},
        "open_id": applicant,
        "user_name": claim.claimant.name,
        "department_name": claim.department_name,
        "start_time": ms(claim.submitted_at) or now_ms,
        "end_time": now_ms if status != "PENDING" else 0,
        "update_time": now_ms,
        "update_mode": "UPDATE",
        "task_list": task_list,
        "i18n_resources": _i18n(texts),
    }


def message_body(*, event_type: str, claim: Claim, open_id: str, uuid: str) -> dict[str, Any]:
    """An interactive card to the applicant; ``uuid`` (our event id) makes Feishu send it once only."""
    headline = {
        "com.baoxiao.claim.submitted": _("Your claim %(number)s was submitted."),
        "com.baoxiao.claim.resubmitted": _("Your claim %(number)s was submitted again."),
        "com.baoxiao.claim.returned": _("Your claim %(number)s was returned to you for changes."),
        "com.baoxiao.claim.approved": _("Your claim %(number)s is approved."),
        "com.baoxiao.claim.paid": _("Your claim %(number)s is paid."),
    }[event_type] % {"number": claim.number}
    link = absolute(reverse("reimbursement:detail", args=[claim.pk]))
    amount = claim.approved_amount if claim.approved_amount is not None else claim.total_amount
    card = {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": headline}},
        "elements": [
            {
                "tag": "div",
                "text": {"tag": "lark_md", "content": f"**{claim.purpose}**\n{amount} {claim.base_currency}"},
            },
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "type": "primary",
                        "url": link,
                        "text": {"tag": "plain_text", "content": _("Open")},
                    }
                ],
            },
        ],
    }
    return {
        "receive_id": open_id,
        "msg_type": "interactive",
        "content": json.dumps(card, ensure_ascii=False),
        "uuid": uuid,
    }
