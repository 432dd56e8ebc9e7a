"""The duplicate-invoice guarantee under concurrent submits, on real PostgreSQL."""

import threading

import pytest
from django.db import connection

from config.errors import ApplicationError
from reimbursement import services
from reimbursement.models import InvoiceRegistration
from tests.reimbursement.factories import make_claim

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_submits_of_the_same_invoice_let_exactly_one_through(demo_company):
    invoice = {"invoice_kind": "vat_digital", "invoice_number": "24312000000055555555"}
    people = [demo_company["zhangwei"], demo_company["lina"], demo_company["wangfang"], demo_company["zhaolei"]]
    claims = [make_claim(person, **invoice) for person in people]
    barrier = threading.Barrier(len(claims))
    outcomes: list[str] = []

    def submit(claim):
        try:
            barrier.wait()
            services.claim_submit(claim_id=claim.pk, actor=claim.claimant.user)
            outcomes.append("submitted")
        except ApplicationError as exc:
            # Refused by the pre-check (the winner already committed) or by the unique key (a true race).
            outcomes.append("refused" if "invoice" in exc.message and exc.status == 400 else repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 3 + ["submitted"]
    assert InvoiceRegistration.objects.filter(invoice_key="DIGITAL:24312000000055555555").count() == 1
