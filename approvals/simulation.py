"""What-if routing for admins, on top of approvals.routing; nothing here writes.

* ``simulate``: the chain one set of facts (a claim, or a person, amount and categories typed in) gets
  from a rule set, with the reasons routing gives for every step and approver.
* ``dry_run``: the claims submitted lately whose chain would differ under the draft.

Auto-approval with a random audit draws a random number; here the draw is fixed so that the answer
does not change from one look to the next, and so that a claim draws the same number before and after.
"""

from __future__ import annotations

import datetime
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from approvals.models import RuleSet
from approvals.routing import (
    ClaimFacts,
    CompiledRuleSet,
    MemoOrgLookups,
    ResolvedChain,
    compile_rule_set,
    compiled_published,
    resolve,
)
from org.models import Employee
from reimbursement.models import Claim, ClaimLine

# The seed of the dry run's draws: fixed, so two runs over the same claims list the same changes.
DRY_RUN_SEED = 20240401


class FixedDraw(random.Random):
    """A "random" source that always draws the same number (in [0, 1))."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# resolve() sends an auto-approvable claim for audit when the draw × 100 is below the audit percentage.
NOT_PICKED = FixedDraw(0.999999)  # picked only when every such claim is audited (100 %)
PICKED = FixedDraw(0.0)  # picked whenever the rule audits at all


@dataclass
class Simulation:
    """What a claim with these facts would get: the usual chain and, for auto-approval with a random
    audit, the chain of a claim picked for the audit."""

    facts: ClaimFacts
    rule_set: RuleSet
    chain: ResolvedChain
    audit_chain: ResolvedChain | None = None
    audit_percent: int = 0


def facts_for(
    *,
    claimant: Employee,
    amount: Decimal,
    category_ids: Iterable[int] = (),
    cost_centre: str = "",
    project: str = "",
) -> ClaimFacts:
    """The facts routing looks at, typed in rather than read from a claim."""
    return ClaimFacts(
        claimant=claimant,
        amount=amount,
        category_ids=frozenset(category_ids),
        cost_centre=cost_centre.strip(),
        project=project.strip(),
    )


def facts_of_claim(claim: Claim) -> ClaimFacts:
    """The facts of an existing claim (its current claimant record, as routing at submit uses)."""
    return ClaimFacts.of_claim(claim)


def _compiled(rule_set: RuleSet) -> CompiledRuleSet:
    # Published and retired versions never change: the process cache serves them. A draft is read anew.
    return compiled_published(rule_set)


def simulate(facts: ClaimFacts, rule_set: RuleSet) -> Simulation:
    """Route the facts through ``rule_set`` without creating anything."""
    compiled = _compiled(rule_set)
    chain = resolve(facts, compiled, rng=NOT_PICKED)
    result = Simulation(facts=facts, rule_set=rule_set, chain=chain)
    rule = next((r for r in compiled.rules if r.id == chain.rule_id), None)
    if rule is not None and rule.auto_approve_below is not None and facts.amount < rule.auto_approve_below:
        result.audit_percent = rule.audit_sample_percent
        if chain.auto_approved and rule.audit_sample_percent:
            result.audit_chain = resolve(facts, compiled, rng=PICKED)
    return result


@dataclass
class ChainChange:
    """A claim whose chain differs between the published rules and the draft."""

    claim: Claim
    before: ResolvedChain | None  # None: nothing was published
    after: ResolvedChain


@dataclass
class DryRun:
    since: datetime.datetime
    checked: int = 0
    changes: list[ChainChange] = field(default_factory=list)


def recent_claims(since: datetime.datetime) -> QuerySet[Claim]:
    """Claims submitted since ``since``, newest first, with claimant and department (one query)."""
    return (
        Claim.objects.filter(submitted_at__gte=since)
        .select_related("claimant__department")
        .order_by("-submitted_at", "-id")
    )


def chain_key(chain: ResolvedChain | None) -> list[list[int]]:
    """What a dry run compares: the approvers step by step (an auto-approval or no rules: nobody)."""
    return chain.approver_ids() if chain is not None else []


def dry_run(
    *,
    draft: RuleSet,
    published: RuleSet | None,
    since: datetime.datetime,
    seed: int = DRY_RUN_SEED,
) -> DryRun:
    """Route every claim submitted since ``since`` through the published set and the draft; keep those
    whose chain of approvers differs.

    Queries: each rule set is compiled once, the claims and their categories are two queries, and the
    org chart reads are remembered for the run (the manager chain is still a recursive CTE, once per
    claimant rather than once per claim).
    """
    before_set = _compiled(published) if published is not None else None
    after_set = compile_rule_set(draft)
    claims = list(recent_claims(since))
    categories: dict[int, set[int]] = defaultdict(set)
    for claim_id, category_id in ClaimLine.objects.filter(claim__submitted_at__gte=since).values_list(
        "claim_id", "category_id"
    ):
        categories[claim_id].add(category_id)
    org = MemoOrgLookups()
    result = DryRun(since=since, checked=len(claims))
    for claim in claims:
        facts = ClaimFacts(
            claimant=claim.claimant,
            amount=claim.total_amount,
            category_ids=frozenset(categories.get(claim.pk, ())),
            cost_centre=claim.cost_centre,
            project=claim.project,
        )
        # The same draw for both sides: a claim is compared with itself, not with a luckier twin.
        before = (
            resolve(facts, before_set, rng=random.Random(seed * 1_000_003 + claim.pk), org=org)
            if before_set is not None
            else None
        )
        after = resolve(facts, after_set, rng=random.Random(seed * 1_000_003 + claim.pk), org=org)
        if chain_key(before) != chain_key(after):
            result.changes.append(ChainChange(claim=claim, before=before, after=after))
    return result
