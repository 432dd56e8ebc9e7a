"""A little history for the demo company: claims in every state, made through the real services.

`make run` loads it after the company (``manage.py seed_demo_claims``) so that every demo login has
something to look at: an employee's draft and returned claim, a manager's inbox, finance's queue and a
paid batch, the dashboards and the compliance reports. Only on an installation without any claim: a
company that started using Baoxiao never gets demo claims.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

# (claimant, purpose, lines (category, amount in CNY, days ago, description), where the claim ends up)
HISTORY: list[tuple[str, str, list[tuple[str, str, int, str]], str]] = [
    (
        "zhangwei",
        "拜访杭州客户 Client visit in Hangzhou",
        [("taxi", "86.00", 12, "去客户处的出租车"), ("meals", "68.00", 12, "与客户午餐")],
        "paid",
    ),
    ("wuhao", "测试设备配件 Test device cables", [("office", "88.00", 15, "USB-C 数据线")], "paid"),
    (
        "heming",
        "华东客户走访 Customer visits",
        [("taxi", "64.00", 10, "打车"), ("meals", "120.00", 10, "工作餐")],
        "paid",
    ),
    ("lina", "团队共创物料 Offsite supplies", [("office", "45.50", 9, "马克笔和便利贴")], "approved"),
    ("songjia", "广州出差 Trip to Guangzhou", [("taxi", "76.00", 4, "机场出租车")], "approved"),
    (
        "wangfang",
        "上海技术大会 Conference in Shanghai",
        [("taxi", "52.00", 6, "机场出租车"), ("meals", "39.00", 6, "晚餐")],
        "pending",
    ),
    ("xuli", "团队午餐 Team lunch", [("meals", "150.00", 3, "迭代结束午餐")], "pending"),
    ("zhaolei", "十月话费 Phone bill, October", [("telecom", "99.00", 28, "手机套餐")], "returned"),
    ("luotao", "客户宴请 Customer dinner", [("meals", "95.00", 8, "与客户晚餐")], "rejected"),
    ("zhangwei", "团队图书 Books for the team", [("office", "59.90", 2, "《重构》第二版")], "draft"),
]


def seed_demo_claims() -> int:
    """Make the demo history; returns how many claims were added (0 when any claim exists already)."""
    from approvals import services as approvals
    from approvals.choices import TaskStatus
    from approvals.models import ApprovalTask
    from org.models import Employee
    from reimbursement import services
    from reimbursement.models import Claim, ExpenseCategory
    from reimbursement.payments.services import batch_create, batch_export_bank_file, batch_mark_paid
    from reimbursement.policy import evaluate_claim

    if Claim.objects.exists():
        return 0
    people = {e.user.username: e for e in Employee.objects.select_related("user", "manager__user")}
    categories = dict(ExpenseCategory.objects.values_list("code", "pk"))
    today = timezone.localdate()
    to_pay = []

    def pending_task(claim: Claim) -> ApprovalTask | None:
        pending = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING)
        return pending.select_related("assignee__user").first()

    def decide_all(claim: Claim) -> None:
        while (task := pending_task(claim)) is not None:  # every step of the flow, manager first
            approvals.task_approve(task_id=task.pk, actor=task.assignee.user, comment="OK")

    # The history mails nobody (the console backend would print a mail per notification at start-up).
    mail_backend, settings.EMAIL_BACKEND = settings.EMAIL_BACKEND, "django.core.mail.backends.locmem.EmailBackend"
    try:
        for username, purpose, lines, outcome in HISTORY:
            employee = people[username]
            claim = services.claim_create(claimant=employee, actor=employee.user, purpose=purpose)
            for code, amount, days_ago, description in lines:
                services.line_add(
                    claim_id=claim.pk,
                    actor=employee.user,
                    data=services.LineInput(
                        expense_date=today - datetime.timedelta(days=days_ago),
                        category_id=categories[code],
                        amount=Decimal(amount),
                        currency="CNY",
                        description=description,
                    ),
                )
            if outcome == "draft":
                continue
            claim.refresh_from_db()
            warnings = {h.key: "演示数据 Demo data" for h in evaluate_claim(claim) if h.severity == "warn"}
            services.claim_submit(claim_id=claim.pk, actor=employee.user, justifications=warnings)
            task = pending_task(claim)
            if outcome == "returned" and task:
                approvals.task_return(
                    task_id=task.pk, actor=task.assignee.user, reason="请附上话费账单 Please attach the bill"
                )
            elif outcome == "rejected" and task:
                approvals.task_reject(task_id=task.pk, actor=task.assignee.user, reason="超出招待标准 Over the policy")
            elif outcome in ("approved", "paid"):
                decide_all(claim)
                if outcome == "paid":
                    to_pay.append(claim.pk)
        if to_pay:
            with transaction.atomic():
                finance = people["sunli"].user
                batch = batch_create(actor=finance, claim_ids=to_pay, note="演示付款批次 Demo batch")
                batch_export_bank_file(batch_id=batch.pk, actor=finance)
                batch_mark_paid(batch_id=batch.pk, actor=finance, reference="DEMO-0001", paid_on=today)
    finally:
        settings.EMAIL_BACKEND = mail_backend
    return len(HISTORY)
