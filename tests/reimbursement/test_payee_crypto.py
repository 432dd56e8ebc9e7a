"""Bank and ID numbers: encrypted at rest, bound to their row and field, masked, revealed only to finance."""

import pytest
from django.db import connection

from audit.models import AuditEvent
from config import crypto
from config.errors import ApplicationError, NotFoundError
from reimbursement import services
from reimbursement.models import PayeeAccount

pytestmark = pytest.mark.django_db
ACCOUNT, RESIDENT_ID = "6222020200112233445", "11010519491231002X"


@pytest.fixture
def accounts(demo_company):
    zhang, lina = demo_company["zhangwei"], demo_company["lina"]
    a = services.payee_account_set(
        employee=zhang,
        actor=zhang.user,
        account_name="张伟",
        bank_name="ICBC",
        account_number=ACCOUNT,
        id_number=RESIDENT_ID,
    )
    b = services.payee_account_set(
        employee=lina,
        actor=lina.user,
        account_name="李娜",
        bank_name="CMB",
        account_number="6225880011112222",
        id_number="",
    )
    return a, b


def test_numbers_are_not_stored_in_clear(accounts):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM reimbursement_payeeaccount")
        dump = repr(cursor.fetchall())
    assert ACCOUNT not in dump and RESIDENT_ID not in dump
    assert accounts[0].masked_account_number.endswith("3445") and ACCOUNT not in accounts[0].masked_account_number


def test_a_ciphertext_swapped_between_rows_fails_to_decrypt(accounts):
    a, b = accounts
    stolen = a.account_number_encrypted
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stolen, context=f"reimbursement_payeeaccount:{b.employee_id}:account_number")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stolen, context=f"reimbursement_payeeaccount:{a.employee_id}:id_number")


def test_finance_reveals_with_an_audit_event_and_nobody_else_can(accounts, demo_company):
    a, _ = accounts
    assert services.payee_account_reveal(account=a, actor=demo_company["sunli"].user, field="account_number") == ACCOUNT
    assert AuditEvent.objects.filter(action="payee_account.revealed", actor=demo_company["sunli"].user).count() == 1
    with pytest.raises(NotFoundError):
        services.payee_account_reveal(account=a, actor=demo_company["liuyang"].user, field="account_number")


def test_the_blind_index_finds_the_same_account_typed_differently(accounts):
    index = crypto.blind_index("6222 0202 0011 2233 445", purpose="payee_account_number")
    assert PayeeAccount.objects.get(account_number_index=index) == accounts[0]


@pytest.mark.parametrize("field,value", [("account_number", "12ab"), ("id_number", "110105194912310021")])
def test_bad_numbers_are_refused_per_field(demo_company, field, value):
    zhang = demo_company["zhangwei"]
    values = {"account_number": ACCOUNT, "id_number": RESIDENT_ID} | {field: value}
    before = list(PayeeAccount.objects.filter(employee=zhang).values())
    with pytest.raises(ApplicationError) as error:
        services.payee_account_set(employee=zhang, actor=zhang.user, account_name="张伟", bank_name="ICBC", **values)
    assert field in error.value.fields
    assert list(PayeeAccount.objects.filter(employee=zhang).values()) == before  # the demo account, unchanged


def test_old_keys_still_decrypt_after_rotation(accounts, monkeypatch):
    a, _ = accounts
    old_keys, index_key = crypto._development_keys()
    monkeypatch.setenv("BAOXIAO_FIELD_KEYS", f"new1:{crypto._b64encode(b'k' * 32)},{old_keys}")
    monkeypatch.setenv("BAOXIAO_BLIND_INDEX_KEY", index_key)
    crypto.reset_key_cache()
    try:
        context = f"reimbursement_payeeaccount:{a.employee_id}:account_number"
        assert crypto.decrypt(a.account_number_encrypted, context=context) == ACCOUNT
        assert crypto.key_id_of(crypto.encrypt("x", context="t")) == "new1"
    finally:
        crypto.reset_key_cache()
