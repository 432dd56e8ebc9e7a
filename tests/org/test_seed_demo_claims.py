"""The demo history `make run` adds: claims in every state, through the real services, once."""

from collections import Counter

import pytest
from django.core.management import call_command

from audit.verification import verify_chain
from config.demo_claims import HISTORY
from reimbursement.models import Claim, Payment, PaymentBatch

pytestmark = pytest.mark.django_db


def test_the_demo_history_has_every_state_once_and_is_not_added_twice(demo_company, capsys):
    call_command("seed_demo_claims")
    assert "10 claims added" in capsys.readouterr().out
    statuses = Counter(Claim.objects.values_list("status", flat=True))
    assert statuses == {"paid": 3, "approved": 2, "in_approval": 2, "returned": 1, "rejected": 1, "draft": 1}
    assert len(HISTORY) == sum(statuses.values())
    batch = PaymentBatch.objects.get()
    assert batch.paid_reference == "DEMO-0001" and Payment.objects.filter(batch=batch).count() == 3
    returned = Claim.objects.get(status="returned")
    assert returned.claimant.user.username == "zhaolei"
    assert verify_chain().whole

    call_command("seed_demo_claims")
    assert "no demo history added" in capsys.readouterr().out
    assert Claim.objects.count() == len(HISTORY)
