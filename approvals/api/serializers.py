"""Shapes of the approvals API. As in the claims API, input serializers only parse (ids, dates, amounts);
the services judge the values. Output serializers only render what the selectors loaded."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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
from approvals.models import ApprovalFlow, ApprovalStep, ApprovalTask, ClaimComment, Delegation, RoutingRule, RuleSet
from reimbursement.api.serializers import MoneySerializer, money
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, ClaimLine

MAX_TEXT = 4000
MAX_BULK = 100


# --- Enums ----------------------------------------------------------------------------------------


class EnumField(serializers.ChoiceField):
    """A choice field whose choice set is one named schema component (``TaskStatusEnum``) wherever it is
    used. Several enums here share the field name ``status`` (task, step, flow, rule set); drf-spectacular
    would name those by component and warn, and its settings-level override lives outside this app."""

    def __init__(self, enum: type[models.TextChoices], **kwargs: Any) -> None:
        self.enum = enum
        super().__init__(choices=enum.choices, **kwargs)

    def to_representation(self, value: Any) -> Any:
        if value in ("", None):
            return None if self.allow_null else ""
        return super().to_representation(value)


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField

    def map_serializer_field(self, auto_schema, direction):
        enum = self.target.enum
        name = f"{enum.__name__}Enum"
        description = "\n".join(f"* `{value}` - {label}" for value, label in enum.choices)
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.SCHEMA,
            object=name,
            schema={"type": "string", "enum": list(enum.values), "description": description},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


# --- Output ---------------------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="An employee id, as the person fields of the inputs take.")
    name = serializers.CharField()
    employee_no = serializers.CharField()


class ClaimSummarySerializer(serializers.ModelSerializer):
    """What an approver sees of a claim in a list."""

    status = serializers.ChoiceField(choices=ClaimStatus.choices, read_only=True)
    claimant = PersonSerializer(read_only=True)
    total = serializers.SerializerMethodField()
    approved_total = serializers.SerializerMethodField()
    categories = serializers.SerializerMethodField(help_text="The categories of its lines, in the request's language.")

    class Meta:
        model = Claim
        fields = [
            "id",
            "number",
            "status",
            "claimant",
            "department_name",
            "purpose",
            "cost_centre",
            "project",
            "total",
            "approved_total",
            "categories",
            "submission_count",
            "submitted_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneySerializer)
    def get_total(self, claim: Claim) -> dict:
        return money(claim.total_amount, claim.base_currency)

    @extend_schema_field(MoneySerializer(allow_null=True))
    def get_approved_total(self, claim: Claim) -> dict | None:
        return money(claim.approved_amount, claim.base_currency)

    def get_categories(self, claim: Claim) -> list[str]:
        # From the prefetched lines (the selectors prefetch them with their categories).
        return sorted({str(line.category.name) for line in claim.lines.all()})


class LineSummarySerializer(serializers.ModelSerializer):
    category_code = serializers.CharField(source="category.code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    amount = serializers.SerializerMethodField()
    base_amount = serializers.SerializerMethodField(help_text="In the claim's base currency.")
    approved_amount = serializers.SerializerMethodField(help_text="Set when an approver cut the line.")

    class Meta:
        model = ClaimLine
        fields = [
            "id",
            "position",
            "expense_date",
            "category_code",
            "category_name",
            "description",
            "merchant",
            "amount",
            "base_amount",
            "approved_amount",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneySerializer)
    def get_amount(self, line: ClaimLine) -> dict:
        return money(line.amount, line.currency)

    @extend_schema_field(MoneySerializer)
    def get_base_amount(self, line: ClaimLine) -> dict:
        return money(line.base_amount, line.claim.base_currency)

    @extend_schema_field(MoneySerializer(allow_null=True))
    def get_approved_amount(self, line: ClaimLine) -> dict | None:
        return money(line.approved_amount, line.claim.base_currency)


class ClaimWithLinesSerializer(ClaimSummarySerializer):
    lines = LineSummarySerializer(many=True, read_only=True)

    class Meta(ClaimSummarySerializer.Meta):
        fields = [*ClaimSummarySerializer.Meta.fields, "lines"]
        read_only_fields = fields


class ApprovalTaskSerializer(serializers.ModelSerializer):
    """One approver's part in a step, with its claim: the inbox and history rows."""

    status = EnumField(TaskStatus, read_only=True)
    step = serializers.CharField(source="step.name", read_only=True, help_text="The step's name.")
    assignee = PersonSerializer(read_only=True)
    delegated = serializers.SerializerMethodField(
        help_text="True when the task is someone else's and you see it (or decided it) as their delegate."
    )
    reason = serializers.CharField(read_only=True, help_text="Why the task was routed to its assignee.")
    overdue = serializers.SerializerMethodField()
    channel = EnumField(DecisionChannel, read_only=True, allow_null=True, help_text="Where it was decided.")
    claim = ClaimSummarySerializer(read_only=True)

    class Meta:
        model = ApprovalTask
        fields = [
            "id",
            "status",
            "step",
            "assignee",
            "delegated",
            "reason",
            "created_at",
            "activated_at",
            "due_at",
            "overdue",
            "decided_at",
            "decided_by_name",
            "on_behalf_of_name",
            "channel",
            "comment",
            "claim",
        ]
        read_only_fields = fields

    def get_delegated(self, task: ApprovalTask) -> bool:
        employee_id = self.context.get("employee_id")
        return employee_id is not None and task.assignee_id != employee_id

    def get_overdue(self, task: ApprovalTask) -> bool:
        return task.status == TaskStatus.PENDING and task.due_at is not None and task.due_at < timezone.now()


class ChainTaskSerializer(serializers.ModelSerializer):
    status = EnumField(TaskStatus, read_only=True)
    assignee = PersonSerializer(read_only=True)
    channel = EnumField(DecisionChannel, read_only=True, allow_null=True)

    class Meta:
        model = ApprovalTask
        fields = [
            "id",
            "status",
            "assignee",
            "reason",
            "activated_at",
            "due_at",
            "decided_at",
            "decided_by_name",
            "on_behalf_of_name",
            "channel",
            "comment",
        ]
        read_only_fields = fields


class ChainStepSerializer(serializers.ModelSerializer):
    mode = EnumField(StepMode, read_only=True)
    status = EnumField(StepStatus, read_only=True)
    explanation = serializers.CharField(read_only=True, help_text="The rule and condition that produced the step.")
    tasks = ChainTaskSerializer(many=True, read_only=True)

    class Meta:
        model = ApprovalStep
        fields = ["id", "position", "name", "mode", "status", "sla_hours", "explanation", "tasks"]
        read_only_fields = fields


class ApprovalFlowSerializer(serializers.ModelSerializer):
    status = EnumField(FlowStatus, read_only=True)
    rule_set_version = serializers.IntegerField(source="rule_set.version", read_only=True, allow_null=True)
    steps = ChainStepSerializer(many=True, read_only=True)

    class Meta:
        model = ApprovalFlow
        fields = [
            "id",
            "submission",
            "status",
            "rule_set_version",
            "rule_name",
            "auto_approved",
            "created_at",
            "finished_at",
            "steps",
        ]
        read_only_fields = fields


class WhyRoutedSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why this assignee, e.g. “Direct manager of 张伟.”")
    step = serializers.CharField(help_text="The step's name.")
    explanation = serializers.CharField(help_text="The rule and condition that produced the step.")
    rule_name = serializers.CharField(help_text="The routing rule the claim matched.")
    rule_set_version = serializers.IntegerField(allow_null=True, help_text="Frozen on the flow at submit.")


class ApprovalTaskDetailSerializer(ApprovalTaskSerializer):
    """A task with its claim's lines, why it was routed, and every flow of the claim so far."""

    can_act = serializers.SerializerMethodField(help_text="Pending, and yours or delegated to you.")
    why_routed = serializers.SerializerMethodField()
    claim = ClaimWithLinesSerializer(read_only=True)
    chain = serializers.SerializerMethodField(help_text="The claim's flows, oldest submission first.")

    class Meta(ApprovalTaskSerializer.Meta):
        fields = [*ApprovalTaskSerializer.Meta.fields, "can_act", "why_routed", "chain"]
        read_only_fields = fields

    def get_can_act(self, task: ApprovalTask) -> bool:
        return task.status == TaskStatus.PENDING and bool(self.context.get("can_act"))

    @extend_schema_field(WhyRoutedSerializer)
    def get_why_routed(self, task: ApprovalTask) -> dict:
        flow = task.step.flow
        return WhyRoutedSerializer(
            {
                "reason": task.reason,
                "step": task.step.name,
                "explanation": task.step.explanation,
                "rule_name": flow.rule_name,
                "rule_set_version": flow.rule_set.version if flow.rule_set_id else None,
            }
        ).data

    @extend_schema_field(ApprovalFlowSerializer(many=True))
    def get_chain(self, task: ApprovalTask) -> list[dict]:
        return ApprovalFlowSerializer(self.context.get("flows", []), many=True).data


class CommentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClaimComment
        fields = ["id", "claim", "author_name", "text", "created_at"]
        read_only_fields = fields


class CategoryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the request's language.")


class DelegationSerializer(serializers.ModelSerializer):
    delegator = PersonSerializer(read_only=True)
    delegate = PersonSerializer(read_only=True)
    categories = CategoryRefSerializer(many=True, read_only=True, help_text="Empty: every category.")
    in_force = serializers.SerializerMethodField(help_text="Active, and today is within its dates.")

    class Meta:
        model = Delegation
        fields = ["id", "delegator", "delegate", "starts_on", "ends_on", "categories", "active", "in_force"]
        read_only_fields = fields

    def get_in_force(self, delegation: Delegation) -> bool:
        today = timezone.localdate()
        return delegation.active and delegation.starts_on <= today <= delegation.ends_on


class BulkResultSerializer(serializers.Serializer):
    task = serializers.IntegerField(source="task_id")
    ok = serializers.BooleanField(help_text="True when this task was approved by this request.")
    code = serializers.CharField(help_text="Empty when ok; else the error code (not_found, already_decided, ...).")
    message = serializers.CharField(help_text="Empty when ok; else why it was not approved.")


class BulkApproveResultSerializer(serializers.Serializer):
    approved = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = BulkResultSerializer(many=True, help_text="One per distinct id, in the order sent.")


# --- Routing rules --------------------------------------------------------------------------------


class DepartmentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class RoutingStepSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    name = serializers.CharField()
    kind = EnumField(StepKind)
    levels = serializers.IntegerField()
    role = serializers.CharField()
    named_approver = PersonSerializer(allow_null=True)
    mode = EnumField(StepMode)
    sla_hours = serializers.IntegerField()


class RoutingRuleSerializer(serializers.ModelSerializer):
    amount_min = serializers.DecimalField(max_digits=13, decimal_places=2, allow_null=True, read_only=True)
    amount_max = serializers.DecimalField(max_digits=13, decimal_places=2, allow_null=True, read_only=True)
    departments = DepartmentRefSerializer(many=True, read_only=True)
    categories = CategoryRefSerializer(many=True, read_only=True)
    cost_centres = serializers.SerializerMethodField()
    projects = serializers.SerializerMethodField()
    return_policy = EnumField(ReturnPolicy, read_only=True)
    auto_approve_below = serializers.DecimalField(max_digits=13, decimal_places=2, allow_null=True, read_only=True)
    steps = RoutingStepSerializer(many=True, read_only=True)

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "position",
            "name",
            "amount_min",
            "amount_max",
            "departments",
            "categories",
            "cost_centres",
            "projects",
            "level_min",
            "level_max",
            "return_policy",
            "auto_approve_below",
            "audit_sample_percent",
            "steps",
        ]
        read_only_fields = fields

    def get_cost_centres(self, rule: RoutingRule) -> list[str]:
        return _split(rule.cost_centres)

    def get_projects(self, rule: RoutingRule) -> list[str]:
        return _split(rule.projects)


class RuleSetSerializer(serializers.ModelSerializer):
    status = EnumField(RuleSetStatus, read_only=True)
    fallback_approver = PersonSerializer(read_only=True, allow_null=True)
    rule_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = RuleSet
        fields = ["id", "version", "status", "note", "fallback_approver", "rule_count", "created_at", "published_at"]
        read_only_fields = fields


class RuleSetDetailSerializer(RuleSetSerializer):
    rules = RoutingRuleSerializer(many=True, read_only=True, help_text="In matching order: the first match wins.")
    problems = serializers.SerializerMethodField(
        help_text="For a draft: what would stop it from being published. Empty otherwise."
    )

    class Meta(RuleSetSerializer.Meta):
        fields = [*RuleSetSerializer.Meta.fields, "rules", "problems"]
        read_only_fields = fields

    def get_problems(self, rule_set: RuleSet) -> list[str]:
        return list(self.context.get("problems", []))


class SimulatedApproverSerializer(serializers.Serializer):
    employee = PersonSerializer()
    reason = serializers.CharField()


class SimulatedStepSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    mode = EnumField(StepMode)
    sla_hours = serializers.IntegerField()
    explanation = serializers.CharField()
    approvers = SimulatedApproverSerializer(many=True)
    skipped = serializers.CharField(help_text="Why the step was skipped; empty when it was not.")


class RuleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RuleSetRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    status = EnumField(RuleSetStatus)


class SimulationSerializer(serializers.Serializer):
    rule_set = RuleSetRefSerializer()
    matched_rule = RuleRefSerializer(allow_null=True, help_text="Null when no rule matched (the fallback decides).")
    reason = serializers.CharField(help_text="Why the rule matched: its conditions in words.")
    auto_approved = serializers.BooleanField()
    steps = SimulatedStepSerializer(many=True, help_text="The steps that would ask someone, in order.")
    skipped_steps = SimulatedStepSerializer(many=True, help_text="The rule's steps that would be skipped, and why.")
    notes = serializers.ListField(child=serializers.CharField())


# --- Input ----------------------------------------------------------------------------------------


class ApproveInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT)


class ReasonInputSerializer(serializers.Serializer):
    # Blank passes here: the service says what is missing, in the same words as the page.
    reason = serializers.CharField(allow_blank=True, max_length=MAX_TEXT)


class TransferInputSerializer(serializers.Serializer):
    to = serializers.IntegerField(help_text="The employee id of the new approver.")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT)


class AddApproverInputSerializer(serializers.Serializer):
    approver = serializers.IntegerField(help_text="The employee id of the added approver.")
    position = serializers.ChoiceField(
        choices=[("before", "before"), ("after", "after")],
        help_text="before: they decide first, then you; after: a new step after yours.",
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT)


class CutLineInputSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="A line id of the task's claim.")
    amount = serializers.DecimalField(
        max_digits=13, decimal_places=2, help_text="The approved amount in the base currency, below the claimed one."
    )
    reason = serializers.CharField(allow_blank=True, max_length=MAX_TEXT)


class BulkApproveInputSerializer(serializers.Serializer):
    tasks = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=1,
        max_length=MAX_BULK,
        help_text=f"Task ids, at most {MAX_BULK}; each is approved in its own transaction.",
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT)


class CommentInputSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, max_length=MAX_TEXT)


class DelegationInputSerializer(serializers.Serializer):
    delegate = serializers.IntegerField(help_text="The employee id of the delegate.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(help_text="Inclusive.")
    categories = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, help_text="Only these categories; empty: all."
    )


class StepInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    kind = EnumField(StepKind)
    levels = serializers.IntegerField(required=False, default=1, min_value=0, max_value=20)
    role = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    named_approver = serializers.IntegerField(required=False, allow_null=True, default=None)
    mode = EnumField(StepMode, required=False, default=StepMode.ANY)
    sla_hours = serializers.IntegerField(required=False, default=48, min_value=1, max_value=32767)


class RuleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    position = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, help_text="Default: after the last rule."
    )
    amount_min = serializers.DecimalField(max_digits=13, decimal_places=2, required=False, allow_null=True)
    amount_max = serializers.DecimalField(max_digits=13, decimal_places=2, required=False, allow_null=True)
    departments = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    categories = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    cost_centres = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, help_text="Empty: any."
    )
    projects = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, help_text="Empty: any."
    )
    level_min = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)
    level_max = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)
    return_policy = EnumField(ReturnPolicy, required=False, default=ReturnPolicy.RESTART)
    auto_approve_below = serializers.DecimalField(max_digits=13, decimal_places=2, required=False, allow_null=True)
    audit_sample_percent = serializers.IntegerField(required=False, default=0, min_value=0, max_value=100)
    steps = StepInputSerializer(many=True, allow_empty=True)


class SimulateInputSerializer(serializers.Serializer):
    claimant = serializers.IntegerField(required=False, allow_null=True, help_text="An employee id; or give claim.")
    claim = serializers.IntegerField(
        required=False, allow_null=True, help_text="Route this claim as it is; the other fields override its facts."
    )
    amount = serializers.DecimalField(
        max_digits=13, decimal_places=2, required=False, allow_null=True, help_text="In the base currency."
    )
    categories = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    cost_centre = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    project = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    rule_set = serializers.IntegerField(
        required=False, allow_null=True, help_text="A rule set id (a draft, say); default: the published one."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if (data.get("claimant") is None) == (data.get("claim") is None):
            raise serializers.ValidationError({"claimant": [_("Give either a claimant or a claim.")]})
        if data.get("claimant") is not None and data.get("amount") is None:
            raise serializers.ValidationError({"amount": [_("Give the amount to route.")]})
        return data
