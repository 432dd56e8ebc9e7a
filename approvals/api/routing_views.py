"""Routing rules API, for administrators only (anyone else gets 404, as for any object they may not see):
rule set versions, their rules and steps, the draft, publishing, and a simulation of where a claim would go.

Writes go through the rule services: ``rule_set_draft``, ``rule_add`` and ``rule_set_publish``.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import services
from approvals.api import serializers as s
from approvals.api.views import check_ids, person
from approvals.choices import RuleSetStatus
from approvals.models import RoutingRule, RoutingStep, RuleSet
from approvals.routing import ClaimFacts, compiled_published, published_rule_set, resolve
from approvals.services.rules import rule_add, validate_rule_set
from config.api import error_responses, idempotent
from config.errors import ApplicationError, ConflictError, NotFoundError
from org.choices import Role
from org.models import Department, Employee
from org.selectors import user_roles
from reimbursement.models import Claim, ExpenseCategory

TAG = ["routing"]


class AdminOnly:
    """A mixin: after authentication (401 first), anyone without the admin role gets 404."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if Role.ADMIN not in user_roles(request.user):
            raise NotFoundError(_("This page does not exist."))


def rule_sets() -> QuerySet[RuleSet]:
    return RuleSet.objects.select_related("fallback_approver").annotate(rule_count=Count("rules"))


def rule_set_or_404(rule_set_id: int) -> RuleSet:
    rule_set = rule_sets().filter(pk=rule_set_id).first()
    if rule_set is None:
        raise NotFoundError(_("This rule set does not exist."))
    return rule_set


def rules_prefetch() -> Prefetch:
    """The rules in matching order with conditions and steps: four queries for any number of rules."""
    steps = RoutingStep.objects.select_related("named_approver").order_by("position", "id")
    rules = RoutingRule.objects.prefetch_related("departments", "categories", Prefetch("steps", queryset=steps))
    return Prefetch("rules", queryset=rules.order_by("position", "id"))


def rule_set_response(rule_set_id: int, status: int = 200) -> Response:
    rule_set = rule_sets().prefetch_related(rules_prefetch()).get(pk=rule_set_id)
    problems = []
    if rule_set.status == RuleSetStatus.DRAFT:
        # A fresh instance: validate_rule_set prefetches the rules its own way.
        problems = validate_rule_set(RuleSet.objects.select_related("fallback_approver").get(pk=rule_set_id))
    data = s.RuleSetDetailSerializer(rule_set, context={"problems": problems}).data
    url = reverse("api-rule-set-detail", kwargs={"rule_set_id": rule_set_id})
    return Response(data, status=status, headers={"Location": url} if status == 201 else None)


class RuleSetListView(AdminOnly, GenericAPIView):
    serializer_class = s.RuleSetSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[RuleSet]:
        return rule_sets().order_by("-version")

    @extend_schema(
        operation_id="routing_rule_sets_list",
        tags=TAG,
        summary="Rule set versions",
        description="Newest first: at most one draft, at most one published, the rest retired.",
        responses={200: s.RuleSetSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.RuleSetSerializer(page, many=True).data)

    @extend_schema(
        operation_id="routing_rule_sets_create",
        tags=TAG,
        summary="Start a new draft",
        description="A copy of the published rules (if any) under the next version number. 409 `draft_exists` "
        "while there is a draft: edit or publish it (`POST rule-sets/draft/` returns it).",
        request=None,
        responses={201: s.RuleSetDetailSerializer, **error_responses(401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        existing = RuleSet.objects.filter(status=RuleSetStatus.DRAFT).values_list("version", flat=True).first()
        if existing is None:
            try:
                draft = services.rule_set_draft(actor=request.user)
            except IntegrityError:
                # Another request made the draft at the same moment (the one-draft constraint said so).
                existing = RuleSet.objects.filter(status=RuleSetStatus.DRAFT).values_list("version", flat=True).first()
            else:
                return rule_set_response(draft.pk, status=201)
        raise ConflictError(
            _("Version %(v)s is the draft already: edit or publish it.") % {"v": existing}, code="draft_exists"
        )


class RuleSetDraftView(AdminOnly, APIView):
    @extend_schema(
        operation_id="routing_rule_sets_draft",
        tags=TAG,
        summary="The draft to edit",
        description="The existing draft (200), or a new one copied from the published rules (201).",
        request=None,
        responses={200: s.RuleSetDetailSerializer, 201: s.RuleSetDetailSerializer, **error_responses(401, 404, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        existed = RuleSet.objects.filter(status=RuleSetStatus.DRAFT).exists()
        try:
            draft = services.rule_set_draft(actor=request.user)
        except IntegrityError:
            # Made by a concurrent request a moment ago: now it is there to return.
            existed, draft = True, services.rule_set_draft(actor=request.user)
        return rule_set_response(draft.pk, status=200 if existed else 201)


class RuleSetDetailView(AdminOnly, APIView):
    @extend_schema(
        operation_id="routing_rule_sets_retrieve",
        tags=TAG,
        summary="A rule set with its rules and steps",
        description="For a draft, `problems` lists what would stop it from being published.",
        responses={200: s.RuleSetDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rule_set_id: int) -> Response:
        rule_set_or_404(rule_set_id)
        return rule_set_response(rule_set_id)


class RuleAddView(AdminOnly, APIView):
    @extend_schema(
        operation_id="routing_rule_sets_rules_create",
        tags=TAG,
        summary="Add a rule to the draft",
        description="Rules match in `position` order (default: after the last); the first match wins. Empty "
        "conditions match everything. 400 `not_draft` on a published or retired set. Whether the rule can "
        "route anyone is checked when publishing.",
        request=s.RuleInputSerializer,
        responses={201: s.RoutingRuleSerializer, **error_responses(400, 401, 404, 422)},
    )
    @idempotent
    def post(self, request: Request, rule_set_id: int) -> Response:
        rule_set_or_404(rule_set_id)
        form = s.RuleInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        ids: dict[str, tuple[type, list[int]]] = {
            "departments": (Department, data["departments"]),
            "categories": (ExpenseCategory, data["categories"]),
        }
        for index, step in enumerate(data["steps"]):
            if step["named_approver"] is not None:
                ids[f"steps.{index}.named_approver"] = (Employee, [step["named_approver"]])
        check_ids(ids)
        steps = [
            {
                "name": step["name"],
                "kind": step["kind"],
                "levels": step["levels"],
                "role": step["role"],
                "named_approver_id": step["named_approver"],
                "mode": step["mode"],
                "sla_hours": step["sla_hours"],
            }
            for step in data["steps"]
        ]
        conditions = {
            name: data.get(name)
            for name in ("amount_min", "amount_max", "level_min", "level_max", "auto_approve_below", "position")
        }
        with transaction.atomic():
            # The set's lock keeps a publish from landing between rule_add's "is it a draft?" and its rows.
            rule_set = RuleSet.objects.select_for_update().get(pk=rule_set_id)
            rule = rule_add(
                rule_set=rule_set,
                name=data["name"],
                steps=steps,
                departments=data["departments"],
                categories=data["categories"],
                cost_centres=", ".join(data["cost_centres"]),
                projects=", ".join(data["projects"]),
                return_policy=data["return_policy"],
                audit_sample_percent=data["audit_sample_percent"],
                **conditions,
            )
        rule = RuleSet.objects.prefetch_related(rules_prefetch()).get(pk=rule_set_id).rules.get(pk=rule.pk)
        url = reverse("api-rule-set-detail", kwargs={"rule_set_id": rule_set_id})
        return Response(s.RoutingRuleSerializer(rule).data, status=201, headers={"Location": url})


class RuleSetPublishView(AdminOnly, APIView):
    @extend_schema(
        operation_id="routing_rule_sets_publish",
        tags=TAG,
        summary="Publish the draft",
        description="It routes every claim submitted from now on; the published version retires (claims in "
        "flight keep theirs). 400 `rule_set_invalid` with the problems in `fields.rules` when a rule could "
        "route a claim to nobody; 400 `not_draft` for a set that is not the draft.",
        request=None,
        responses={200: s.RuleSetDetailSerializer, **error_responses(400, 401, 404, 422)},
    )
    @idempotent
    def post(self, request: Request, rule_set_id: int) -> Response:
        rule_set_or_404(rule_set_id)
        services.rule_set_publish(rule_set_id=rule_set_id, actor=request.user)
        return rule_set_response(rule_set_id)


class _NoAuditDraw(random.Random):
    """A simulation shows the usual outcome: a claim under a rule's auto-approval threshold is picked for
    the random audit only when the rule's audit share is 100%."""

    def random(self) -> float:
        return 0.999999


class SimulateView(AdminOnly, APIView):
    @extend_schema(
        operation_id="routing_simulate",
        tags=TAG,
        summary="Where would a claim go?",
        description="Routes the facts (a claimant and an amount, or an existing claim, whose facts the other "
        "fields override) against a rule set (default: the published one; a draft to try it out) without "
        "saving anything: the matched rule and why, each step with its approvers and why them, the skipped "
        "steps and why. Runs the same resolve() as a submit. 409 `no_rule_set` when nothing is published.",
        request=s.SimulateInputSerializer,
        responses={200: s.SimulationSerializer, **error_responses(400, 401, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        form = s.SimulateInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        check_ids({"categories": (ExpenseCategory, data.get("categories") or [])})
        if data.get("rule_set") is not None:
            rule_set = RuleSet.objects.select_related("fallback_approver").filter(pk=data["rule_set"]).first()
            if rule_set is None:
                message = _("This rule set does not exist.")
                raise ApplicationError(message, fields={"rule_set": [message]})
        else:
            rule_set = published_rule_set()
            if rule_set is None:
                raise ConflictError(_("No rule set is published: claims are not routed."), code="no_rule_set")
        facts = self._facts(data)
        compiled = compiled_published(rule_set)
        chain = resolve(facts, compiled, rng=_NoAuditDraw())
        notes = list(chain.notes)
        rule = next((r for r in compiled.rules if r.id == chain.rule_id), None)
        if chain.auto_approved and rule is not None and rule.audit_sample_percent:
            notes.append(
                _("%(p)d%% of such claims are picked for a random audit and go through the steps instead.")
                % {"p": rule.audit_sample_percent}
            )
        body = {
            "rule_set": rule_set,
            "matched_rule": {"id": chain.rule_id, "name": chain.rule_name} if chain.rule_id else None,
            "reason": chain.matched_because,
            "auto_approved": chain.auto_approved,
            "steps": [step for step in chain.steps if not step.skipped],
            "skipped_steps": [step for step in chain.steps if step.skipped],
            "notes": notes,
        }
        return Response(s.SimulationSerializer(body).data)

    def _facts(self, data: dict[str, Any]) -> ClaimFacts:
        if data.get("claim") is not None:
            claim = Claim.objects.select_related("claimant", "claimant__department").filter(pk=data["claim"]).first()
            if claim is None:
                message = _("This claim does not exist.")
                raise ApplicationError(message, fields={"claim": [message]})
            facts = ClaimFacts.of_claim(claim)
        else:
            claimant = person(data["claimant"], "claimant")
            facts = ClaimFacts(claimant=claimant, amount=data["amount"], category_ids=frozenset())
        overrides: dict[str, Any] = {}
        if data.get("amount") is not None:
            overrides["amount"] = data["amount"]
        if data.get("categories") is not None:
            overrides["category_ids"] = frozenset(data["categories"])
        for name in ("cost_centre", "project"):
            if data.get(name) is not None:
                overrides[name] = data[name]
        return dataclasses.replace(facts, **overrides)
