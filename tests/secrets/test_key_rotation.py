"""Key rotation: ``manage.py rotate_encryption_key`` re-encrypts every encrypted value under the new key,
everything still decrypts (also once the old key is gone), and a ciphertext moved to another row fails."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from config import crypto
from config.crypto_rotation import encrypted_fields
from oa_bridge.credentials import get_credentials
from oa_bridge.models import Connector
from reimbursement import services
from reimbursement.models import PayeeAccount

pytestmark = pytest.mark.django_db

ACCOUNTS = {"zhangwei": ("6222020200112233445", "310115198706143572"), "lina": ("6225880011112222", "")}


def keys(*kids: str) -> str:
    return ",".join(f"{kid}:{crypto._b64encode(kid.encode().ljust(32, b'.'))}" for kid in kids)


@pytest.fixture
def use_keys(monkeypatch):
    _old, index_key = crypto._development_keys()
    monkeypatch.setenv("BAOXIAO_BLIND_INDEX_KEY", index_key)

    def switch(*kids: str) -> None:
        monkeypatch.setenv("BAOXIAO_FIELD_KEYS", keys(*kids))
        crypto.reset_key_cache()

    yield switch
    crypto.reset_key_cache()


@pytest.fixture
def encrypted_under_old(demo_company, use_keys):
    """Bank accounts and connector credentials, all written under key "old"."""
    use_keys("old")
    PayeeAccount.objects.all().delete()  # the demo's accounts were written under the development key
    for username, (account, id_number) in ACCOUNTS.items():
        person = demo_company[username]
        services.payee_account_set(
            employee=person,
            actor=person.user,
            account_name=person.name,
            bank_name="ICBC",
            account_number=account,
            id_number=id_number,
        )
    from oa_bridge.credentials import set_credentials

    for connector in Connector.objects.all():
        set_credentials(connector, {"webhook_secrets": ["whsec_test"], "connector": connector.slug})
    return demo_company


def tokens() -> list[str]:
    found = []
    for spec in encrypted_fields():
        found += [t for t in spec.model.objects.values_list(spec.name, flat=True) if t]
    return found


def clear_values(people) -> dict:
    finance = people["sunli"].user
    values = {}
    for account in PayeeAccount.objects.select_related("employee"):
        for field in ("account_number", "id_number"):
            values[(account.employee_id, field)] = services.payee_account_reveal(
                account=account, actor=finance, field=field
            )
    for connector in Connector.objects.all():
        values[connector.slug] = get_credentials(connector)
    return values


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_every_encrypted_column_is_covered_by_the_rotation():
    listed = {(spec.model, spec.name) for spec in encrypted_fields()}
    columns = {
        (model, f.name) for model in apps.get_models() for f in model._meta.fields if f.name.endswith("_encrypted")
    }
    assert columns == listed


def test_rotation_reencrypts_everything_under_the_new_key_and_all_still_decrypts(encrypted_under_old, use_keys):
    before = clear_values(encrypted_under_old)
    assert {crypto.key_id_of(t) for t in tokens()} == {"old"}
    count = len(tokens())
    assert count >= len(ACCOUNTS) + 1 + Connector.objects.count()

    use_keys("new", "old")
    assert f"{count} old value(s) found, {count} would be re-encrypted" in rotate("--dry-run")
    assert {crypto.key_id_of(t) for t in tokens()} == {"old"}  # a dry run changes nothing
    assert f"Current key new: {count} old value(s) found, {count} re-encrypted." in rotate()
    assert {crypto.key_id_of(t) for t in tokens()} == {"new"}
    assert clear_values(encrypted_under_old) == before
    assert "0 old value(s) found, 0 re-encrypted" in rotate()  # running again does nothing

    use_keys("new")  # the old key is dropped: everything still decrypts
    assert clear_values(encrypted_under_old) == before
    # The blind index is unchanged: the duplicate-account look-up still finds the account.
    index = crypto.blind_index(ACCOUNTS["zhangwei"][0], purpose="payee_account_number")
    assert PayeeAccount.objects.get(account_number_index=index).employee.user.username == "zhangwei"


def test_a_ciphertext_swapped_between_rows_fails_to_decrypt_with_a_clear_error(encrypted_under_old, use_keys):
    people = encrypted_under_old
    zhang = PayeeAccount.objects.get(employee=people["zhangwei"])
    lina = PayeeAccount.objects.get(employee=people["lina"])
    PayeeAccount.objects.filter(pk=zhang.pk).update(account_number_encrypted=lina.account_number_encrypted)
    PayeeAccount.objects.filter(pk=lina.pk).update(account_number_encrypted=zhang.account_number_encrypted)
    zhang.refresh_from_db()
    with pytest.raises(crypto.DecryptionError, match="does not match its key or its place"):
        services.payee_account_reveal(account=zhang, actor=people["sunli"].user, field="account_number")
    # The same token is fine in its own row: the binding is to the row, not a damaged value.
    assert (
        crypto.decrypt(
            zhang.account_number_encrypted, context=f"reimbursement_payeeaccount:{lina.employee_id}:account_number"
        )
        == ACCOUNTS["lina"][0]
    )

    # Rotation refuses to pretend: both rows are reported, left as they are, and the command fails.
    use_keys("new", "old")
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 value\\(s\\) did not decrypt"):
        call_command("rotate_encryption_key", stdout=io.StringIO(), stderr=err)
    assert f"reimbursement_payeeaccount.account_number_encrypted row {zhang.pk}" in err.getvalue()
    assert crypto.key_id_of(PayeeAccount.objects.get(pk=zhang.pk).account_number_encrypted) == "old"
    # Every other value was re-encrypted.
    assert sorted(crypto.key_id_of(t) for t in tokens()).count("old") == 2


def test_an_unknown_key_id_is_named_in_the_error(encrypted_under_old, use_keys):
    token = PayeeAccount.objects.get(employee=encrypted_under_old["zhangwei"]).account_number_encrypted
    use_keys("new")
    with pytest.raises(crypto.DecryptionError, match="unknown key id 'old'"):
        crypto.decrypt(token, context="reimbursement_payeeaccount:1:account_number")
