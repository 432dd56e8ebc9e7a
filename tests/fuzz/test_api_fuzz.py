"""Schemathesis over the whole API for each role: no 5xx, and every answer as the schema documents it
(status code, content type, headers, body). A short deterministic pass runs with the suite;
``make fuzz`` runs FUZZ_MAX_EXAMPLES (100 by default) cases per operation and prints a summary per role."""

from __future__ import annotations

import os

import pytest
from rest_framework.authtoken.models import Token

from approvals.models import RuleSet
from tests.fuzz.runner import fuzz_role, load_schema, summary
from tests.security.world import CANARY_SECRETS, build_world

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# The suite's short pass: 3 cases per operation for the four roles that write (about 600 requests, about a
# minute). `make fuzz` sets FUZZ_MAX_EXAMPLES (100 by default) and adds the auditor and anonymous callers.
LONG = "FUZZ_MAX_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "3"))
ROLES = ["employee", "manager", "finance", "admin", *(["auditor", "anonymous"] if LONG else [])]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False


def id_pools(world) -> dict[str, list[int]]:
    o = world.objects
    return {
        "claim_id": [c.pk for k, c in o.items() if k.endswith(("draft", "submitted", "paying"))],
        "line_id": [a.line_id for a in (o["own_attachment"], o["foreign_attachment"])],
        "attachment_id": [o["own_attachment"].pk, o["foreign_attachment"].pk],
        "task_id": [o["own_task"].pk, o["foreign_task"].pk],
        "batch_id": [o["batch"].pk],
        "payment_id": [o["payment"].pk],
        "delegation_id": [o["delegation"].pk, o["foreign_delegation"].pk],
        "rule_set_id": list(RuleSet.objects.values_list("pk", flat=True)),
    }


@pytest.mark.parametrize("role", ROLES)
def test_the_api_answers_as_documented_to_every_role(role, demo_company, capsys):
    world = build_world(demo_company)
    token = None if role == "anonymous" else Token.objects.get_or_create(user=world.user(role))[0].key
    # Only finance's bank file carries (account) numbers in clear.
    allow = {"POST /api/v1/finance/batches/{batch_id}/export/"} if role == "finance" else set()
    results = fuzz_role(
        load_schema(id_pools(world)), token=token, max_examples=MAX_EXAMPLES, secrets=CANARY_SECRETS, allow_clear=allow
    )
    report = summary(role, results)
    with capsys.disabled():
        if os.environ.get("FUZZ_SUMMARY"):
            print("\n" + report)
    assert all(r.cases >= min(MAX_EXAMPLES, 1) for r in results), report
    assert not any(r.failures for r in results), report
