"""One small company state shared by the access matrix and the API fuzzer, made through the real services.

The demo company plus, for each kind of object, one that belongs to the employee (``own``), one of a
colleague in another team (``foreign``) and, seen from the manager, the employee's (a subordinate's).
Bank account and ID numbers are canaries: values that must never appear in a response in clear.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from approvals import services as approvals
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask, Delegation, Notification
from org.models import Department
from reimbursement import services
from reimbursement.auditor import auditor_grant
from reimbursement.models import Attachment, Claim, PayeeAccount
from reimbursement.payments.services import batch_create
from tests.reimbursement.factories import make_claim, png, submit

# The people of each role (demo usernames). The auditor is granted the Platform department only.
ROLE_USERS = {
    "employee": "zhangwei",  # Platform, managed by liuyang
    "manager": "liuyang",  # head of Platform, approves zhangwei's claims
    "finance": "sunli",
    "auditor": "auditor",
    "admin": "admin",
}
OTHER_TEAM = "wuhao"  # Mobile, managed by zhoujing: nobody above may approve his claims
AUDITED_DEPARTMENT = "platform"

# Canary numbers: unlike anything else the app prints (the demo's are 62220200...).
CANARY_ACCOUNT = {"zhangwei": "6299887766554433221", "wuhao": "6299881122334455667", "liuyang": "6299880099887766"}
CANARY_ID = {"zhangwei": "110105199003071239", "wuhao": "440305198506112015", "liuyang": "310104198002027777"}
CANARY_SECRETS = [*CANARY_ACCOUNT.values(), *CANARY_ID.values()]


@dataclass
class World:
    people: dict[str, Any]  # username -> Employee
    users: dict[str, Any]  # role -> User
    objects: dict[str, Any] = field(default_factory=dict)  # key -> model instance

    def user(self, role: str):
        return self.users[role]


def _pending_task(claim: Claim) -> ApprovalTask:
    return ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).select_related("assignee__user").get()


def _approve_all(claim: Claim) -> Claim:
    for _ in range(10):
        task = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).select_related("assignee").first()
        if task is None:
            break
        approvals.task_approve(task_id=task.pk, actor=task.assignee.user)
    claim.refresh_from_db()
    return claim


def _claim_with_receipt(employee, purpose: str) -> tuple[Claim, Attachment]:
    claim = make_claim(employee, lines=1, purpose=purpose, category="office", amount=Decimal("88.00"))
    attachment = services.attachment_add(line_id=claim.lines.get().pk, actor=employee.user, upload=png(claim.pk))
    return claim, attachment


def build_world(demo_company: dict[str, Any]) -> World:
    """The objects of the matrix (see the module docstring); the caller holds the demo company."""
    people = demo_company
    world = World(people=people, users={role: people[name].user for role, name in ROLE_USERS.items()})
    auditor_grant(user=world.users["auditor"], departments=[Department.objects.get(code=AUDITED_DEPARTMENT)])
    for username, number in CANARY_ACCOUNT.items():
        employee = people[username]
        services.payee_account_set(
            employee=employee,
            actor=employee.user,
            account_name=employee.name,
            bank_name="Canary Bank",
            branch="",
            account_number=number,
            id_number=CANARY_ID[username],
        )
    me, other = people[ROLE_USERS["employee"]], people[OTHER_TEAM]
    o = world.objects
    o["own_draft"], o["own_attachment"] = _claim_with_receipt(me, "Own draft")
    o["own_submitted"] = submit(_claim_with_receipt(me, "Own submitted")[0])
    o["own_task"] = _pending_task(o["own_submitted"])  # assigned to the manager
    o["own_paying"] = _approve_all(submit(make_claim(me, purpose="Own paid", amount=Decimal("50.00"))))
    o["batch"] = batch_create(actor=world.users["finance"], claim_ids=[o["own_paying"].pk])
    o["payment"] = o["batch"].payments.get()
    o["foreign_draft"], o["foreign_attachment"] = _claim_with_receipt(other, "Foreign draft")
    o["foreign_submitted"] = submit(_claim_with_receipt(other, "Foreign submitted")[0])
    o["foreign_task"] = _pending_task(o["foreign_submitted"])  # assigned to zhoujing
    today = timezone.localdate()
    o["delegation"] = approvals.delegation_create(
        actor=world.users["manager"],
        delegate=people["zhangwei"],
        starts_on=today,
        ends_on=today + datetime.timedelta(3),
    )
    o["foreign_delegation"] = approvals.delegation_create(
        actor=people["zhoujing"].user, delegate=people["wuhao"], starts_on=today, ends_on=today + datetime.timedelta(3)
    )
    o["notification"] = Notification.objects.filter(recipient=world.users["manager"]).order_by("pk").first()
    o["foreign_notification"] = Notification.objects.filter(recipient=people["zhoujing"].user).order_by("pk").first()
    assert o["notification"] and o["foreign_notification"] and Delegation.objects.count() == 2
    assert PayeeAccount.objects.filter(bank_name="Canary Bank").count() == len(CANARY_ACCOUNT)
    return world
