"""Canary bank account and ID numbers, entered through the bank-account page and carried through a whole
claim (submit, approve, batch, bank file, paid), appear in the bank file and nowhere else: not in a
pg_dump of the database, not in the logs (DEBUG, with every SQL statement), not in the Celery messages
on the broker, not in the outbox rows nor in what the OA receives."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import subprocess

import pytest
import redis
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app
from oa_bridge.models import Connector, OutboxEvent
from oa_bridge.services.outbox import outbox_deliver
from reimbursement.models import PayeeAccount
from reimbursement.payments import services as payments
from tests.finance.conftest import approve
from tests.oa_bridge.receiver import receiver  # noqa: F401 - fixture
from tests.reimbursement.factories import make_claim, submit

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CANARY_ACCOUNT = "6222027359186420571"
CANARY_ID = "310115198706143572"
CANARIES = (CANARY_ACCOUNT.encode(), CANARY_ID.encode())


def leaks(blob: bytes | str) -> list[str]:
    data = blob.encode() if isinstance(blob, str) else blob
    return [c.decode() for c in CANARIES if c in data]


def pg_dump() -> bytes:
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    command = ["pg_dump", "--no-owner", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432)]
    command += ["-U", db["USER"], db["NAME"]]
    return subprocess.run(command, env=env, capture_output=True, check=True, timeout=120).stdout  # noqa: S603


def broker_contents() -> list[bytes]:
    """Every value in this test run's Redis database, with kombu message bodies base64-decoded."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    found: list[bytes] = []
    for key in client.scan_iter():
        kind = client.type(key)
        values = {
            b"list": lambda k: client.lrange(k, 0, -1),
            b"hash": lambda k: list(client.hgetall(k).values()),
            b"string": lambda k: [client.get(k)],
            b"set": lambda k: list(client.smembers(k)),
            b"zset": lambda k: client.zrange(k, 0, -1),
        }.get(kind, lambda k: [])(key)
        for value in values:
            found.append(value)
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found.append(base64.b64decode(json.loads(value)["body"]))
    return found


@pytest.fixture
def on_the_broker():
    """Tasks go to the real Redis broker instead of running in-process; published messages are recorded."""
    published: list[bytes] = []

    def record(body=None, headers=None, **kwargs):
        published.append(repr((body, headers)).encode())

    app.control.purge()
    before_task_publish.connect(record, weak=False)
    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    yield published
    before_task_publish.disconnect(record)
    app.control.purge()


def test_canary_numbers_stay_out_of_database_logs_broker_and_oa(
    demo_company,
    client,
    caplog,
    receiver,  # noqa: F811 - the fixture imported above
    on_the_broker,
):
    zhang, finance = demo_company["zhangwei"], demo_company["sunli"].user
    sandbox = Connector.objects.get(slug="sandbox")
    sandbox.events_url = receiver.url
    sandbox.save(update_fields=["events_url"])
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")  # INFO in settings.LOGGING
    connection.force_debug_cursor = True  # every SQL statement and its parameters go to the DEBUG log
    try:
        client.force_login(zhang.user)
        response = client.post(
            "/claims/bank-account/",
            {
                "account_name": zhang.name,
                "bank_name": "中国工商银行",
                "branch": "上海分行",
                "account_number": CANARY_ACCOUNT,
                "id_number": CANARY_ID,
            },
        )
        assert response.status_code == 302, response.content.decode()[:500]
        claim = approve(submit(make_claim(zhang)))
        batch = payments.batch_create(actor=finance, claim_ids=[claim.pk])
        bank_file = payments.batch_export_bank_file(batch_id=batch.pk, actor=finance)
        payments.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="R-1", paid_on=timezone.localdate())
    finally:
        connection.force_debug_cursor = False

    # The numbers were really used: stored encrypted, and written to the bank file for finance.
    account = PayeeAccount.objects.get(employee=zhang)
    assert account.account_number_last4 == CANARY_ACCOUNT[-4:] and account.id_number_last4 == CANARY_ID[-4:]
    assert CANARY_ACCOUNT.encode() in bank_file.content

    # The database, as a backup would have it.
    dump = pg_dump()
    assert account.account_number_encrypted.encode() in dump  # the dump does hold the row
    assert leaks(dump) == []

    # The logs, at DEBUG, including the SQL.
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "reimbursement_payeeaccount" in logged  # the SQL was logged
    assert leaks(logged) == []

    # The broker: what was published and what sits on the queue.
    assert on_the_broker, "nothing was published to the broker"
    assert leaks(b"".join(on_the_broker)) == []
    queued = broker_contents()
    assert queued, "nothing on the broker"
    assert leaks(b"".join(queued)) == []

    # The OA: the outbox rows, and what the receiver got once they were delivered.
    rows = list(OutboxEvent.objects.filter(subject=str(claim.pk)))
    assert {r.type for r in rows} >= {"com.baoxiao.claim.submitted", "com.baoxiao.claim.paid"}
    assert leaks(json.dumps([r.data for r in rows], ensure_ascii=False)) == []
    for row in rows:
        outbox_deliver(event_id=str(row.id))
    assert len(receiver.requests) >= len(rows)
    assert leaks(b"".join(r["body"] + repr(r["headers"]).encode() for r in receiver.requests)) == []
