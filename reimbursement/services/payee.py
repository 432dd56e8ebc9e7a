"""The employee's bank account for reimbursements, encrypted at rest and masked everywhere."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import audit_record
from config import crypto
from config.errors import ApplicationError, NotFoundError
from org.models import Employee
from org.selectors import user_roles
from reimbursement.models import PayeeAccount

_ACCOUNT = re.compile(r"^\d{8,30}$")
_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


def resident_id_is_valid(value: str) -> bool:
    """A mainland resident id: 18 characters with the GB 11643 check digit."""
    if not _RESIDENT_ID.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def context(account: PayeeAccount | None, employee_id: int, field: str) -> str:
    """Associated data binding a ciphertext to its table, row and field: a value copied elsewhere fails."""
    return f"reimbursement_payeeaccount:{employee_id}:{field}"


@transaction.atomic
def payee_account_set(
    *,
    employee: Employee,
    actor: Any,
    account_name: str,
    bank_name: str,
    account_number: str,
    id_number: str = "",
    branch: str = "",
) -> PayeeAccount:
    """Save the employee's bank account; the numbers are encrypted and never stored in clear."""
    if getattr(actor, "employee", None) != employee:
        raise NotFoundError(_("You can only change your own bank account."))
    account_number = re.sub(r"\s", "", account_number or "")
    id_number = re.sub(r"\s", "", id_number or "").upper()
    errors: dict[str, list[str]] = {}
    if not (account_name or "").strip():
        errors["account_name"] = [_("Enter the account holder's name.")]
    if not (bank_name or "").strip():
        errors["bank_name"] = [_("Enter the bank.")]
    if not _ACCOUNT.match(account_number):
        errors["account_number"] = [_("An account number has 8 to 30 digits.")]
    if id_number and not resident_id_is_valid(id_number):
        errors["id_number"] = [_("This is not a valid 18-character resident ID number.")]
    if errors:
        raise ApplicationError(_("Please correct the bank account."), fields=errors)
    account = PayeeAccount.objects.select_for_update().filter(employee=employee).first() or PayeeAccount(
        employee=employee
    )
    account.account_name = account_name.strip()
    account.bank_name = bank_name.strip()
    account.branch = (branch or "").strip()
    account.account_number_encrypted = crypto.encrypt(
        account_number, context=context(account, employee.pk, "account_number")
    )
    account.account_number_last4 = account_number[-4:]
    account.account_number_index = crypto.blind_index(account_number, purpose="payee_account_number")
    account.id_number_encrypted = (
        crypto.encrypt(id_number, context=context(account, employee.pk, "id_number")) if id_number else ""
    )
    account.id_number_last4 = id_number[-4:] if id_number else ""
    account.save()
    audit_record(
        action="payee_account.set",
        target=account,
        actor=actor,
        data={"bank": account.bank_name, "account_last4": account.account_number_last4},
    )
    return account


@transaction.atomic
def payee_account_reveal(*, account: PayeeAccount, actor: Any, field: str, reason: str = "") -> str:
    """The clear number for finance, and for auditors of the employee's claims, written to the audit trail;
    everyone else gets a 404."""
    from org.choices import Role
    from reimbursement.auditor import auditor_may_reveal

    roles = user_roles(actor)
    may_reveal = Role.FINANCE in roles or (
        Role.AUDITOR in roles and auditor_may_reveal(actor, employee_id=account.employee_id)
    )
    if not may_reveal:
        raise NotFoundError(_("This account does not exist."))
    if field not in ("account_number", "id_number"):
        raise ApplicationError(_("Unknown field."))
    token = getattr(account, f"{field}_encrypted")
    if not token:
        return ""
    value = crypto.decrypt(token, context=context(account, account.employee_id, field))
    audit_record(action="payee_account.revealed", target=account, actor=actor, data={"field": field, "reason": reason})
    return value
