"""The hash-chained, append-only audit trail and ``manage.py verify_audit_chain``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, connections, transaction

from audit import chain
from audit.management.commands.verify_audit_chain import Command as VerifyCommand
from audit.models import AuditEvent
from audit.services import audit_record
from audit.verification import BROKEN_PREV_LINK, GAP, HASH_MISMATCH, verify_chain
from tests.audit.conftest import journey, tamper

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out)
    return out.getvalue()


def broken() -> CommandError:
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit_chain", stdout=io.StringIO())
    assert caught.value.returncode == 1
    return caught.value


def nth(sequence: int) -> AuditEvent:
    return AuditEvent.objects.get(sequence=sequence)


# --- The chain as written --------------------------------------------------------------------------


def test_a_claims_whole_journey_leaves_one_unbroken_chain(people):
    claim = journey(people)
    events = list(AuditEvent.objects.order_by("sequence"))
    actions = [e.action for e in events if e.target_id == str(claim.pk)]
    assert {"claim.created", "claim.submitted", "claim.returned", "claim.resubmitted", "claim.approved"} <= set(actions)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == chain.GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
        assert after.occurred_at >= before.occurred_at
    report = verify_chain(batch_size=7)  # several batches
    assert report.whole and report.checked == len(events)
    output = verify()
    assert f"{len(events)} events, sequence 1 to {len(events)}" in output and events[-1].hash in output


def test_the_hash_is_an_hmac_of_the_fields_with_the_key_from_outside_the_database(people, monkeypatch):
    event = audit_record(action="test.recorded", target=people["zhangwei"], data={"amount": "1.00"})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.hash == event.hash == chain.event_hash(stored) and len(stored.hash) == 64
    monkeypatch.setenv(chain.KEY_VARIABLE, "A" * 43)  # another 32-byte key
    chain.reset_key_cache()
    try:
        assert chain.event_hash(stored) != stored.hash
    finally:
        chain.reset_key_cache()


def test_numbers_hash_alike_however_the_json_column_gives_them_back():
    # jsonb may return 1e+16 as 10000000000000000 and 1.50 as 1.5: the canonical form must not care.
    assert chain._encode({"b": 1e16, "a": 1.50, "c": -0.0}) == chain._encode({"a": 1.5, "c": 0, "b": 10**16})
    assert chain._encode({"n": 1}) != chain._encode({"n": "1"})


def test_data_with_decimals_dates_and_floats_verifies_after_the_round_trip(people):
    import datetime
    from decimal import Decimal

    audit_record(
        action="test.recorded",
        target=people["zhangwei"],
        data={"amount": Decimal("12.30"), "when": datetime.date(2026, 1, 2), "rate": 1e16, "ratio": 0.1, "名": "张"},
    )
    assert verify_chain().whole


def test_a_development_key_is_generated_once_into_var(settings, tmp_path, monkeypatch):
    monkeypatch.delenv(chain.KEY_VARIABLE, raising=False)
    settings.VAR_DIR = tmp_path
    chain.reset_key_cache()
    try:
        first = chain.hmac_key()
        chain.reset_key_cache()
        assert chain.hmac_key() == first and len(first) == 32
        assert (tmp_path / "audit_hmac_key").stat().st_mode & 0o777 == 0o600
    finally:
        chain.reset_key_cache()


def test_a_short_key_is_a_configuration_error(monkeypatch):
    from config.env import ConfigError

    monkeypatch.setenv(chain.KEY_VARIABLE, "c2hvcnQ")
    chain.reset_key_cache()
    try:
        with pytest.raises(ConfigError, match=chain.KEY_VARIABLE):
            chain.hmac_key()
    finally:
        chain.reset_key_cache()


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BAOXIAO_", "DATABASE_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean | env, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_the_chain_key_in_one_line(tmp_path):
    env = {
        "BAOXIAO_ENV": "production",
        "BAOXIAO_SECRET_KEY": "prod-" + "a1B2c3D4e5" * 6,
        "BAOXIAO_ALLOWED_HOSTS": "baoxiao.example.com",
        "BAOXIAO_VAR_DIR": str(tmp_path),
    }
    refused = _manage("check", env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().startswith("baoxiao: configuration error: BAOXIAO_ENV=production needs ")
    assert chain.KEY_VARIABLE in refused.stderr and refused.stderr.strip().count("\n") == 0
    assert not (tmp_path / "audit_hmac_key").exists()  # nothing generated in production
    started = _manage("check", env=env | {chain.KEY_VARIABLE: "k" * 43})
    assert started.returncode == 0, started.stderr


# --- Append-only: the database refuses changes (PostgreSQL) ---------------------------------------


@pytest.mark.postgres
def test_the_table_refuses_update_and_delete_even_from_raw_sql(people):
    journey(people)
    event = nth(3)
    for sql in (
        "UPDATE audit_auditevent SET action = 'claim.nothing' WHERE id = %s",
        "UPDATE audit_auditevent SET actor_id = NULL WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(target_label="x")
    assert nth(3).action == event.action and AuditEvent.objects.filter(pk=event.pk).exists()
    assert verify_chain().whole


def test_a_user_who_acted_cannot_be_deleted_so_no_row_is_ever_rewritten(people):
    from django.contrib.auth import get_user_model
    from django.db.models import ProtectedError

    bare = get_user_model().objects.create_user("someone", password="x")  # no employee record
    audit_record(action="test.recorded", target=people["zhangwei"], actor=bare)
    with pytest.raises(ProtectedError):
        bare.delete()
    assert verify_chain().whole


# --- verify_audit_chain finds tampering ----------------------------------------------------------


def test_a_row_edited_by_hand_is_named_with_a_hash_mismatch(people):
    journey(people)
    victim = nth(5)
    tamper("UPDATE audit_auditevent SET target_label = %s WHERE id = %s", ["BX-FAKE", victim.pk])
    error = broken()
    message = str(error)
    assert f"sequence 5 (event id {victim.pk})" in message and HASH_MISMATCH in message
    report = verify_chain()
    assert (report.broken.sequence, report.broken.event_id, report.broken.problem) == (5, victim.pk, HASH_MISMATCH)
    assert report.checked == 4


def test_an_edited_data_field_is_found_too(people):
    journey(people)
    victim = AuditEvent.objects.filter(action="approval.task.decided").latest("sequence")
    if connection.vendor == "postgresql":
        tamper(
            "UPDATE audit_auditevent SET data = jsonb_set(data, '{comment}', '\"changed\"') WHERE id = %s",
            [victim.pk],
        )
    else:
        tamper("UPDATE audit_auditevent SET data = json_set(data, '$.comment', 'changed') WHERE id = %s", [victim.pk])
    link = verify_chain().broken
    assert (link.sequence, link.problem) == (victim.sequence, HASH_MISMATCH)


def test_a_deleted_row_is_a_gap_named_by_the_row_after_it(people):
    journey(people)
    gone, after = nth(4), nth(5)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [gone.pk])
    message = str(broken())
    assert f"sequence 5 (event id {after.pk})" in message and GAP in message and "sequence 4 is missing" in message


def test_removing_the_first_rows_is_a_gap_too(people):
    journey(people)
    tamper("DELETE FROM audit_auditevent WHERE sequence <= 2")
    link = verify_chain().broken
    assert (link.sequence, link.problem) == (3, GAP) and "sequences 1 to 2" in link.detail


def test_a_removed_row_with_the_sequence_closed_up_breaks_the_prev_link(people):
    journey(people)
    later = nth(7)
    tamper("DELETE FROM audit_auditevent WHERE sequence = 6")
    tamper("UPDATE audit_auditevent SET sequence = sequence - 1 WHERE sequence > 6")
    # No gap any more: the row now numbered 6 still points at the deleted row's hash.
    link = verify_chain().broken
    assert (link.sequence, link.event_id, link.problem) == (6, later.pk, BROKEN_PREV_LINK)
    assert f"sequence 6 (event id {later.pk})" in str(broken())


def test_a_whole_chain_exits_0_and_a_broken_one_exits_1(people, capsys, monkeypatch):
    # run_from_argv closes the connections when done, which would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    journey(people)
    VerifyCommand().run_from_argv(["manage.py", "verify_audit_chain"])  # no SystemExit: status 0
    assert "Audit chain whole" in capsys.readouterr().out
    tamper("UPDATE audit_auditevent SET actor_name = 'someone else' WHERE sequence = 2")
    with pytest.raises(SystemExit) as exited:
        VerifyCommand().run_from_argv(["manage.py", "verify_audit_chain", "--batch-size", "3"])
    assert exited.value.code == 1
    assert "sequence 2" in capsys.readouterr().err


def test_the_help_says_what_the_command_checks_and_its_exit_status():
    text = VerifyCommand().create_parser("manage.py", "verify_audit_chain").format_help()
    flat = " ".join(text.split())
    for words in ("gap", "broken prev link", "hash mismatch", "Exit status 0", "1 when it is broken", "--batch-size"):
        assert words in flat, words


def test_an_empty_chain_is_whole():
    assert not AuditEvent.objects.exists()
    assert "no events yet" in verify()


def test_verification_reads_in_batches_with_constant_memory(people, django_assert_max_num_queries):
    journey(people)
    count = AuditEvent.objects.count()
    if connection.vendor == "postgresql":
        # A server-side cursor: one query, rows fetched batch by batch.
        with django_assert_max_num_queries(1):
            assert verify_chain(batch_size=5).checked == count
    else:
        assert verify_chain(batch_size=5).checked == count


# --- Concurrent writers (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_append_one_unbroken_chain(demo_company):
    target = demo_company["zhangwei"]
    writers, per_writer = 8, 15
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    audit_record(action="test.concurrent", target=target, data={"writer": n, "i": i})
                    # Hold the chain a moment inside the transaction, as a real change would.
                    AuditEvent.objects.filter(action="test.concurrent").exists()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    written = AuditEvent.objects.filter(action="test.concurrent")
    assert written.count() == writers * per_writer
    report = verify_chain()
    assert report.whole and report.checked == AuditEvent.objects.count()
    # Each writer's own events are in its order along the chain.
    for n in range(writers):
        mine = [e.data["i"] for e in written.filter(data__writer=n).order_by("sequence")]
        assert mine == list(range(per_writer))
