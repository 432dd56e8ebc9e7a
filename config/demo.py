"""The demo company across all apps, loaded by ``manage.py seed_demo``. Each app seeds its own part."""

from __future__ import annotations

from django.db import transaction


@transaction.atomic
def seed_demo() -> dict[str, int]:
    """Create whatever part of the demo data is missing; return what was added, by kind."""
    from approvals.demo import seed_approvals_demo
    from oa_bridge.demo import seed_oa_demo
    from org.demo.seed import seed_demo_company
    from reimbursement.demo import seed_reimbursement_demo

    departments, people = seed_demo_company()
    return {
        "departments": departments,
        "employees": people,
        **seed_reimbursement_demo(),
        **seed_approvals_demo(),
        **seed_oa_demo(),
    }
