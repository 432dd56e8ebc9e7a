"""Approvals API for approvers: the inbox, the history, one task and the decisions on it, comments and
delegations (routing rules are in ``routing_views``).

A task is found only by the people the services let act on it (its assignee, or a delegate whose
delegation covers the claim) and by whoever decided it; anyone else gets 404, as from the services. Every
write is one service call; a task that is no longer pending is 409 with the service's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_filters
from django.db.models import Model, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import services
from approvals.api import serializers as s
from approvals.choices import DecisionChannel, TaskStatus
from approvals.forms import SORT_CHOICES, SORTS, InboxFilterSet
from approvals.models import ApprovalTask, Delegation, RuleSet
from approvals.selectors import _delegation_condition, active_delegations_to, claim_flows, inbox_tasks, task_history
from config.api import error_responses, idempotent
from config.errors import ApplicationError, NotFoundError
from org.models import Employee
from reimbursement.models import ClaimLine, ExpenseCategory

TAG = ["approvals"]
TASK_RELATED = ("claim", "claim__claimant", "assignee", "step", "step__flow", "step__flow__rule_set")


def employee_id_of(user: Any) -> int | None:
    employee = getattr(user, "employee", None)
    return employee.pk if employee is not None else None


def lines_prefetch() -> Prefetch:
    """A claim's lines with their categories: one query for a whole page of tasks."""
    return Prefetch("claim__lines", queryset=ClaimLine.objects.select_related("category").order_by("position", "id"))


def visible_task(user: Any, task_id: int) -> tuple[ApprovalTask, bool]:
    """The task and whether the user may act on it now; 404 when it is neither theirs nor delegated to them.

    The same people as the services accept (the assignee, or a delegate whose delegation covers the
    claim), in any state, plus whoever decided it: so a decided task answers 409 through the service, not
    404 here, whoever of them asks. Acting needs it to be pending.
    """
    employee = getattr(user, "employee", None)
    task = None
    if employee is not None:
        condition = Q(assignee=employee) | Q(decided_by=user)
        # The inbox's own condition for delegated tasks (delegators, limited to their categories).
        delegated = _delegation_condition(active_delegations_to(employee))
        if delegated is not None:
            condition |= delegated
        task = ApprovalTask.objects.filter(condition, pk=task_id).select_related(*TASK_RELATED).first()
    if task is None:
        raise NotFoundError(_("This task does not exist."))
    return task, task.status == TaskStatus.PENDING


def task_response(user: Any, task_id: int) -> Response:
    """The task as it now is, with its claim and lines, why it was routed and the chain."""
    task, can_act = visible_task(user, task_id)
    claim = task.claim
    prefetch_related_objects([claim], Prefetch("lines", queryset=lines_prefetch().queryset))
    flows = claim_flows(claim)
    # claim_flows leaves the rule set out; the versions come in one more query.
    versions = RuleSet.objects.in_bulk({f.rule_set_id for f in flows if f.rule_set_id})
    for flow in flows:
        if flow.rule_set_id:
            flow.rule_set = versions[flow.rule_set_id]
    context = {"employee_id": employee_id_of(user), "can_act": can_act, "flows": flows}
    return Response(s.ApprovalTaskDetailSerializer(task, context=context).data)


def person(employee_id: int, field: str) -> Employee:
    """An employee named in the input, or 400 on that field (whether they may approve is the service's call)."""
    employee = Employee.objects.filter(pk=employee_id).select_related("department").first()
    if employee is None:
        raise ApplicationError(_("Please correct the fields listed."), fields={field: [_("No such person.")]})
    return employee


def check_ids(fields: dict[str, tuple[type[Model], list[int]]]) -> None:
    """400 naming every input field that refers to rows that do not exist."""
    errors = {}
    for field, (model, ids) in fields.items():
        known = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(i) for i in ids if i not in known]
        if missing:
            errors[field] = [_("Unknown id: %(ids)s.") % {"ids": ", ".join(missing)}]
    if errors:
        raise ApplicationError(_("Please correct the fields listed."), fields=errors)


@contextmanager
def fields_renamed(**names: str) -> Iterator[None]:
    """Report a service's field errors under this API's input names (the services say "assignee")."""
    try:
        yield
    except ApplicationError as exc:
        exc.fields = {names.get(name, name): messages for name, messages in exc.fields.items()}
        raise


# --- Lists ----------------------------------------------------------------------------------------


class InboxAPIFilterSet(InboxFilterSet):
    """The inbox page's filters (one FilterSet for page and API), plus ``ordering`` as DRF clients name it."""

    ordering = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="keep", label=gettext_lazy("Sort"), empty_label=None
    )

    # The page's filter methods take a department or category; on the wire both are ids.
    @extend_schema_field(OpenApiTypes.INT)
    def filter_department(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return super().filter_department(queryset, name, value)

    @extend_schema_field(OpenApiTypes.INT)
    def filter_category(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return super().filter_category(queryset, name, value)

    @property
    def qs(self) -> QuerySet[ApprovalTask]:
        queryset = super().qs
        ordering = self.form.cleaned_data.get("ordering") if self.is_bound and self.form.is_valid() else ""
        return queryset.order_by(*SORTS[ordering]) if ordering else queryset


INBOX_DESCRIPTION = (
    "Your pending tasks and those of people who delegated to you (within the delegation's dates and "
    "categories), due first by default. `sort` (or `ordering`): `due` (due first), `age` (waiting longest), "
    "`amount` (largest first). `age`: only tasks waiting at least that many days. A fixed number of "
    "queries whatever the page size."
)


class InboxView(GenericAPIView):
    filterset_class = InboxAPIFilterSet
    serializer_class = s.ApprovalTaskSerializer

    def get_queryset(self) -> QuerySet[ApprovalTask]:
        if getattr(self, "swagger_fake_view", False):
            return ApprovalTask.objects.none()
        # The claims' JSON snapshots (what changed since the last submission) can be large and the list
        # shows none of them.
        return (
            inbox_tasks(self.request.user)
            .defer("claim__last_submitted_snapshot", "claim__changes_since_last_submission")
            .prefetch_related(lines_prefetch())
        )

    @extend_schema(
        operation_id="approvals_inbox",
        tags=TAG,
        summary="My inbox",
        description=INBOX_DESCRIPTION,
        responses={200: s.ApprovalTaskSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {"employee_id": employee_id_of(request.user)}
        return self.get_paginated_response(s.ApprovalTaskSerializer(page, many=True, context=context).data)


class HistoryView(GenericAPIView):
    serializer_class = s.ApprovalTaskSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[ApprovalTask]:
        if getattr(self, "swagger_fake_view", False):
            return ApprovalTask.objects.none()
        return (
            task_history(self.request.user)
            .select_related("assignee", "claim__claimant")
            .prefetch_related(lines_prefetch())
        )

    @extend_schema(
        operation_id="approvals_history",
        tags=TAG,
        summary="Tasks I decided or transferred",
        description="As assignee or as a delegate; newest decision first.",
        responses={200: s.ApprovalTaskSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        context = {"employee_id": employee_id_of(request.user)}
        return self.get_paginated_response(s.ApprovalTaskSerializer(page, many=True, context=context).data)


# --- One task and its actions ---------------------------------------------------------------------

NOT_PENDING = (
    "409 when the task is no longer pending (decided, by you or someone else, transferred, or waiting on an "
    "added approver), with a message saying which."
)


class TaskDetailView(APIView):
    @extend_schema(
        operation_id="approval_tasks_retrieve",
        tags=TAG,
        summary="One task",
        description="With the claim and its lines, why the task was routed to its assignee, and the chain: "
        "every flow of the claim with its steps and tasks. Tasks you decided stay readable.",
        responses={200: s.ApprovalTaskDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, task_id: int) -> Response:
        return task_response(request.user, task_id)


def _parsed(request: Request, task_id: int, serializer_class: type) -> dict[str, Any]:
    """404 before anything else when the task is not the caller's, whatever the body says; then the body."""
    visible_task(request.user, task_id)
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return form.validated_data


class TaskApproveView(APIView):
    @extend_schema(
        operation_id="approval_tasks_approve",
        tags=TAG,
        summary="Approve",
        description="The step completes when any one (or all) of its approvers approved; then the next step "
        f"opens, or the claim is approved. {NOT_PENDING}",
        request=s.ApproveInputSerializer,
        responses={200: s.ApprovalTaskDetailSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        data = _parsed(request, task_id, s.ApproveInputSerializer)
        services.task_approve(task_id=task_id, actor=request.user, comment=data["comment"], channel=DecisionChannel.API)
        return task_response(request.user, task_id)


class TaskRejectView(APIView):
    @extend_schema(
        operation_id="approval_tasks_reject",
        tags=TAG,
        summary="Reject the claim",
        description=f"Final. A reason is required (400 on `reason` when blank). {NOT_PENDING}",
        request=s.ReasonInputSerializer,
        responses={200: s.ApprovalTaskDetailSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        data = _parsed(request, task_id, s.ReasonInputSerializer)
        services.task_reject(task_id=task_id, actor=request.user, reason=data["reason"], channel=DecisionChannel.API)
        return task_response(request.user, task_id)


class TaskReturnView(APIView):
    @extend_schema(
        operation_id="approval_tasks_return",
        tags=TAG,
        summary="Return the claim to the claimant",
        description="For changes; the claimant resubmits. A reason is required (400 on `reason` when blank). "
        f"{NOT_PENDING}",
        request=s.ReasonInputSerializer,
        responses={200: s.ApprovalTaskDetailSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        data = _parsed(request, task_id, s.ReasonInputSerializer)
        services.task_return(task_id=task_id, actor=request.user, reason=data["reason"], channel=DecisionChannel.API)
        return task_response(request.user, task_id)


class TaskTransferView(APIView):
    @extend_schema(
        operation_id="approval_tasks_transfer",
        tags=TAG,
        summary="Transfer the task to someone else",
        description="The task ends as transferred and a new one is opened for `to`, saying who transferred it "
        f"and why. 400 on `to` for someone who left, the claimant or the current assignee. {NOT_PENDING}",
        request=s.TransferInputSerializer,
        responses={200: s.ApprovalTaskDetailSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        data = _parsed(request, task_id, s.TransferInputSerializer)
        to = person(data["to"], "to")
        with fields_renamed(assignee="to"):
            services.task_transfer(task_id=task_id, actor=request.user, to=to, comment=data["comment"])
        return task_response(request.user, task_id)


class TaskAddApproverView(APIView):
    @extend_schema(
        operation_id="approval_tasks_add_approver",
        tags=TAG,
        summary="Add an approver before or after you",
        description="`before`: they decide first, then the task comes back to you (an any-one step becomes "
        f"all-of). `after`: a new step after yours. {NOT_PENDING}",
        request=s.AddApproverInputSerializer,
        responses={200: s.ApprovalTaskDetailSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        data = _parsed(request, task_id, s.AddApproverInputSerializer)
        approver = person(data["approver"], "approver")
        with fields_renamed(assignee="approver"):
            services.task_add_approver(
                task_id=task_id,
                actor=request.user,
                approver=approver,
                before=data["position"] == "before",
                comment=data["comment"],
            )
        return task_response(request.user, task_id)


class TaskCutLineView(APIView):
    @extend_schema(
        operation_id="approval_tasks_cut_line",
        tags=TAG,
        summary="Approve less than claimed on one line",
        description="The amount is in the claim's base currency, from 0 to below the line's amount; a reason "
        f"is required. The task stays pending: approve it afterwards. {NOT_PENDING}",
        request=s.CutLineInputSerializer,
        responses={200: s.ApprovalTaskDetailSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        data = _parsed(request, task_id, s.CutLineInputSerializer)
        claim_id = ApprovalTask.objects.filter(pk=task_id).values_list("claim_id", flat=True).get()
        if not ClaimLine.objects.filter(pk=data["line"], claim_id=claim_id).exists():
            # The task is the caller's, so its claim's lines are no secret: a wrong id is bad input.
            message = _("This line is not on the task's claim.")
            raise ApplicationError(message, fields={"line": [message]})
        services.task_cut_line(
            task_id=task_id, actor=request.user, line_id=data["line"], amount=data["amount"], reason=data["reason"]
        )
        return task_response(request.user, task_id)


class BulkApproveView(APIView):
    @extend_schema(
        operation_id="approval_tasks_bulk_approve",
        tags=TAG,
        summary="Approve several tasks",
        description="Each task is approved in its own transaction: a refusal (not yours: `not_found`; no longer "
        "pending: `already_decided` or `task_not_pending`) does not undo the others. Always 200 with one result "
        f"per distinct id. At most {s.MAX_BULK} ids; more belong in several requests.",
        request=s.BulkApproveInputSerializer,
        responses={200: s.BulkApproveResultSerializer, **error_responses(400, 401, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        form = s.BulkApproveInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        results = services.tasks_bulk_approve(
            task_ids=form.validated_data["tasks"],
            actor=request.user,
            comment=form.validated_data["comment"],
            channel=DecisionChannel.API,
        )
        approved = sum(1 for r in results if r.ok)
        body = {"approved": approved, "refused": len(results) - approved, "results": results}
        return Response(s.BulkApproveResultSerializer(body).data)


class ClaimCommentView(APIView):
    @extend_schema(
        operation_id="claims_comments_create",
        tags=["claims"],
        summary="Comment on a claim",
        description="For the claimant and the claim's approvers (or their delegates); on its timeline. Others "
        "who may read the claim (finance, auditors) get 403; anyone else 404.",
        request=s.CommentInputSerializer,
        responses={201: s.CommentSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    @idempotent
    def post(self, request: Request, claim_id: int) -> Response:
        form = s.CommentInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        comment = services.claim_comment_add(claim_id=claim_id, actor=request.user, text=form.validated_data["text"])
        return Response(s.CommentSerializer(comment).data, status=201)


# --- Delegations ----------------------------------------------------------------------------------

DELEGATION_TAG = ["delegations"]


def delegations_of(user: Any) -> QuerySet[Delegation]:
    """Delegations the user gave or received, current first."""
    employee_id = employee_id_of(user)
    if employee_id is None:
        return Delegation.objects.none()
    return (
        Delegation.objects.filter(Q(delegator_id=employee_id) | Q(delegate_id=employee_id))
        .select_related("delegator", "delegate")
        .prefetch_related("categories")
        .order_by("-active", "-starts_on", "-id")
    )


class DelegationListView(GenericAPIView):
    serializer_class = s.DelegationSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Delegation]:
        if getattr(self, "swagger_fake_view", False):
            return Delegation.objects.none()
        return delegations_of(self.request.user)

    @extend_schema(
        operation_id="approvals_delegations_list",
        tags=DELEGATION_TAG,
        summary="My delegations",
        description="Those I gave (`delegator` is me) and those I received (`delegate` is me), current first.",
        responses={200: s.DelegationSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.DelegationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="approvals_delegations_create",
        tags=DELEGATION_TAG,
        summary="Let someone act on my tasks while I am away",
        description="From `starts_on` to `ends_on` inclusive, optionally only for claims with a line in the "
        "given categories. The delegate acts on my behalf; the audit log names both.",
        request=s.DelegationInputSerializer,
        responses={201: s.DelegationSerializer, **error_responses(400, 401, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        form = s.DelegationInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        delegate = person(data["delegate"], "delegate")
        category_ids = list(dict.fromkeys(data["categories"]))
        check_ids({"categories": (ExpenseCategory, category_ids)})
        delegation = services.delegation_create(
            actor=request.user,
            delegate=delegate,
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            category_ids=category_ids,
        )
        return Response(s.DelegationSerializer(delegations_of(request.user).get(pk=delegation.pk)).data, status=201)


class DelegationEndView(APIView):
    @extend_schema(
        operation_id="approvals_delegations_end",
        tags=DELEGATION_TAG,
        summary="End a delegation now",
        description="Only its delegator can; ending an ended delegation changes nothing.",
        request=None,
        responses={200: s.DelegationSerializer, **error_responses(401, 404, 422)},
    )
    @idempotent
    def post(self, request: Request, delegation_id: int) -> Response:
        services.delegation_end(delegation_id=delegation_id, actor=request.user)
        return Response(s.DelegationSerializer(delegations_of(request.user).get(pk=delegation_id)).data)
