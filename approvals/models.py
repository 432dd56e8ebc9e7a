"""Who approves a claim and what they decided.

Routing rules live in versioned rule sets: admins edit a draft, publishing freezes it and makes it the
one new claims are routed with; a flow keeps the version it was routed with. At submit a claim gets an
ApprovalFlow: ordered ApprovalSteps, each with ApprovalTasks for its approvers (any one or all of them).
Every task records why it was routed to its assignee, and who decided it (and for whom, when a delegate
acted).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from approvals.choices import (
    DecisionChannel,
    FlowStatus,
    ReturnPolicy,
    RuleSetStatus,
    StepKind,
    StepMode,
    StepStatus,
    TaskStatus,
)

MONEY = {"max_digits": 13, "decimal_places": 2}


class RuleSet(models.Model):
    """One version of the routing rules. At most one is published at a time."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    status = models.CharField(_("status"), max_length=12, choices=RuleSetStatus.choices, default=RuleSetStatus.DRAFT)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who approves when a rule resolves to nobody (e.g. the manager left); also used if no rule matches.
    fallback_approver = models.ForeignKey(
        "org.Employee",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("fallback approver"),
    )

    class Meta:
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="published"), name="approvals_one_published_rule_set"
            ),
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="draft"), name="approvals_one_draft_rule_set"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.get_status_display()})"


class RoutingRule(models.Model):
    """Conditions on a claim and the steps it yields. The first matching rule (by position) wins."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(_("order"), default=0)
    name = models.CharField(_("name"), max_length=200)
    amount_min = models.DecimalField(_("amount from"), **MONEY, null=True, blank=True)
    amount_max = models.DecimalField(_("amount below"), **MONEY, null=True, blank=True)
    departments = models.ManyToManyField(
        "org.Department",
        blank=True,
        related_name="+",
        verbose_name=_("departments"),
        help_text=_("Sub-departments included. Empty: every department."),
    )
    categories = models.ManyToManyField(
        "reimbursement.ExpenseCategory",
        blank=True,
        related_name="+",
        verbose_name=_("categories"),
        help_text=_("Matches when any line has one of them. Empty: every category."),
    )
    cost_centres = models.CharField(_("cost centres"), max_length=500, blank=True, help_text=_("Comma separated."))
    projects = models.CharField(_("projects"), max_length=500, blank=True, help_text=_("Comma separated."))
    level_min = models.PositiveSmallIntegerField(_("claimant level from"), null=True, blank=True)
    level_max = models.PositiveSmallIntegerField(_("claimant level to"), null=True, blank=True)
    return_policy = models.CharField(
        _("after a return"), max_length=8, choices=ReturnPolicy.choices, default=ReturnPolicy.RESTART
    )
    auto_approve_below = models.DecimalField(_("auto-approve below"), **MONEY, null=True, blank=True)
    audit_sample_percent = models.PositiveSmallIntegerField(
        _("random audit %"), default=0, help_text=_("Share of auto-approvable claims still sent for approval.")
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["rule_set", "position", "id"]

    def __str__(self) -> str:
        return self.name


class RoutingStep(models.Model):
    """One step a rule yields: whom to ask, and whether any one or all of them must approve."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("name"), max_length=100, blank=True)
    kind = models.CharField(_("approver"), max_length=20, choices=StepKind.choices)
    levels = models.PositiveSmallIntegerField(
        _("levels"), default=1, help_text=_("Manager N levels up, or the head of the department N levels up (0 = own).")
    )
    role = models.CharField(_("role"), max_length=32, blank=True)
    named_approver = models.ForeignKey(
        "org.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("person")
    )
    mode = models.CharField(_("needs"), max_length=4, choices=StepMode.choices, default=StepMode.ANY)
    sla_hours = models.PositiveSmallIntegerField(_("due within hours"), default=48)

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return self.name or self.get_kind_display()


class MatrixEntry(models.Model):
    """Approval matrix: department × category × amount band → approver (for ``matrix`` steps)."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="matrix")
    department = models.ForeignKey("org.Department", on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(
        "reimbursement.ExpenseCategory", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    amount_min = models.DecimalField(**MONEY, null=True, blank=True)
    amount_max = models.DecimalField(**MONEY, null=True, blank=True)
    approver = models.ForeignKey("org.Employee", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("matrix entry")
        verbose_name_plural = _("approval matrix")

    def __str__(self) -> str:
        return f"{self.department} / {self.category or '*'} → {self.approver}"


class ApprovalFlow(models.Model):
    """The chain one submission of a claim goes through, frozen at submit."""

    claim = models.ForeignKey("reimbursement.Claim", on_delete=models.CASCADE, related_name="approval_flows")
    submission = models.PositiveSmallIntegerField()
    rule_set = models.ForeignKey(RuleSet, null=True, on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(RoutingRule, null=True, on_delete=models.PROTECT, related_name="+")
    rule_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=FlowStatus.choices, default=FlowStatus.ACTIVE)
    auto_approved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["claim", "submission"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "submission"], name="approvals_one_flow_per_submission"),
            models.UniqueConstraint(
                fields=["claim"], condition=models.Q(status="active"), name="approvals_one_active_flow_per_claim"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim} #{self.submission}"


class ApprovalStep(models.Model):
    """One step of a flow."""

    flow = models.ForeignKey(ApprovalFlow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    mode = models.CharField(max_length=4, choices=StepMode.choices, default=StepMode.ANY)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.WAITING)
    sla_hours = models.PositiveSmallIntegerField(default=48)
    source_step = models.ForeignKey(RoutingStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    explanation = models.CharField(max_length=300, blank=True)  # which rule and condition produced it

    class Meta:
        ordering = ["flow", "position"]

    def __str__(self) -> str:
        return f"{self.flow} step {self.position}: {self.name}"


class ApprovalTask(models.Model):
    """One approver's part in a step. Exactly one decision per task, under its row lock."""

    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="tasks")
    claim = models.ForeignKey("reimbursement.Claim", on_delete=models.CASCADE, related_name="approval_tasks")
    assignee = models.ForeignKey("org.Employee", on_delete=models.PROTECT, related_name="approval_tasks")
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.WAITING)
    reason = models.CharField(_("why routed"), max_length=300)
    # A task waits for another (an approver added before me); it becomes pending when that one is decided.
    blocked_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_name = models.CharField(max_length=200, blank=True)
    on_behalf_of_name = models.CharField(max_length=200, blank=True)  # set when a delegate decided
    channel = models.CharField(max_length=8, choices=DecisionChannel.choices, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["step__position", "id"]
        # Only pending tasks have a due time that matters (the inbox, the SLA sweep), and they are a few
        # per cent of all tasks: partial indexes stay small. They also keep the planner off a scan of a
        # full due_at index in due order, which for an inbox with a delegation (assignee = A OR B) read
        # the whole table on a million tasks (bench/inbox.py: p95 over 1 s before, a few ms after).
        indexes = [
            models.Index(
                fields=["assignee", "due_at", "id"], condition=models.Q(status="pending"), name="task_pending_inbox_idx"
            ),
            models.Index(fields=["due_at"], condition=models.Q(status="pending"), name="task_pending_due_idx"),
            models.Index(fields=["claim", "status"], name="task_claim_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.claim} → {self.assignee} ({self.status})"


class Delegation(models.Model):
    """While away, an approver lets a delegate act on their tasks (optionally only some categories)."""

    delegator = models.ForeignKey("org.Employee", on_delete=models.CASCADE, related_name="delegations_given")
    delegate = models.ForeignKey("org.Employee", on_delete=models.CASCADE, related_name="delegations_received")
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    categories = models.ManyToManyField(
        "reimbursement.ExpenseCategory",
        blank=True,
        related_name="+",
        verbose_name=_("only these categories"),
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="delegation_dates"),
            models.CheckConstraint(condition=~models.Q(delegator=models.F("delegate")), name="delegation_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} → {self.delegate} ({self.starts_on}–{self.ends_on})"


class ClaimComment(models.Model):
    """A remark on a claim by an approver or the claimant, shown on the timeline."""

    claim = models.ForeignKey("reimbursement.Claim", on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=200)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text[:50]


class Notification(models.Model):
    """An entry of the in-app notification centre (emails go out alongside, after commit)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    claim = models.ForeignKey("reimbursement.Claim", null=True, on_delete=models.CASCADE, related_name="+")
    verb = models.CharField(max_length=64)  # the domain event, e.g. claim.approved
    # The text in the server's language when it was written (emails, and the fallback for old rows); pages
    # show ``text``: the verb's sentence with ``params``, in the reader's language.
    message = models.CharField(max_length=300)
    params = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return self.message

    @property
    def text(self) -> str:
        from approvals.notifications import notification_text

        return notification_text(self.verb, self.params) or self.message
