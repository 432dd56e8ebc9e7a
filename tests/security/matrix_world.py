"""The objects the access matrix addresses, by name, on top of tests/security/world.py."""

from __future__ import annotations

from typing import Any

from approvals.models import MatrixEntry, RoutingRule, RoutingStep, RuleSet
from approvals.services.rules import rule_set_draft
from oa_bridge.models import Connector, OutboxEvent
from tests.security.world import World, build_world


def build_matrix_world(demo_company: dict[str, Any]) -> World:
    world = build_world(demo_company)
    o = world.objects
    o["connector"] = Connector.objects.order_by("pk").first()
    o["outbox_event"] = OutboxEvent.objects.order_by("created_at").first()
    o["published"] = RuleSet.objects.get(status="published")
    o["draft_rules"] = rule_set_draft(actor=world.user("admin"))
    o["rule"] = RoutingRule.objects.filter(rule_set=o["draft_rules"]).order_by("pk").first()
    o["step"] = RoutingStep.objects.filter(rule__rule_set=o["draft_rules"]).order_by("pk").first()
    o["matrix_entry"] = MatrixEntry.objects.order_by("pk").first()
    assert o["connector"] and o["outbox_event"] and o["rule"] and o["step"]
    return world


def resolve(world: World, spec: str) -> Any:
    """``"own_draft"`` is the object's pk; ``"own_draft.line"`` its first line's; ``"#slug:connector"`` an
    attribute; a bare number (an id nothing has) or ``"=text"`` stays as it is."""
    if spec.isdigit():
        return int(spec)
    if spec.startswith("="):
        return spec[1:]
    if spec.startswith("#"):
        attribute, key = spec[1:].split(":")
        return getattr(world.objects[key], attribute)
    key, _, part = spec.partition(".")
    obj = world.objects[key]
    if part == "line":
        return obj.lines.order_by("pk").first().pk
    if part == "version":
        return obj.version
    return obj.pk
