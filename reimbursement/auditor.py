"""The auditor role: read-only sight of submitted claims, everywhere or in granted departments only.

An employee in the ``auditor`` group with no department grant sees every claim that was ever submitted.
Once granted departments (the django-guardian object permission ``org.audit_department``, given with
``manage.py grant_auditor`` or in the admin's object permissions of a department), the auditor sees only the
claims made for those departments and the departments below them. Seeing is all: the claim services change a
claim for its claimant only (a visible claim answers 403), approval actions need the task's assignee.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.db.models.lookups import StartsWith
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from audit.services import audit_record
from org.choices import Role
from org.models import Department
from org.selectors import user_roles
from reimbursement.models import Claim

AUDIT_DEPARTMENT = "org.audit_department"


def granted_departments(user: Any) -> QuerySet[Department]:
    """The departments granted to ``user`` directly or through a group; lazy, so it can be a subquery.

    Read from guardian's tables by name rather than with get_objects_for_user, which first looks up (and
    caches) content types: a claim list must cost the same queries on a cold process as on a warm one.
    """
    permission = Q(
        permission__codename=AUDIT_DEPARTMENT.split(".")[1],
        permission__content_type__app_label="org",
        permission__content_type__model="department",
    )
    by_user = UserObjectPermission.objects.filter(permission, user=user.pk).values("object_pk")
    by_group = GroupObjectPermission.objects.filter(permission, group__user=user.pk).values("object_pk")
    # guardian keeps object ids as text: compare the department's id as text (never cast their column).
    return Department.objects.annotate(pk_text=Cast("pk", CharField())).filter(
        Q(pk_text__in=by_user) | Q(pk_text__in=by_group)
    )


def auditor_claims_q(user: Any) -> Q | None:
    """Visibility rule (registered in ReimbursementConfig.ready) for auditors; None for everyone else.

    The role comes from the roles look-up the finance rule makes too (cached on the user); the grant test
    is part of the claim query, so the rule adds no query: without grants every submitted claim, with
    grants those whose department path starts with a granted department's path.
    """
    if Role.AUDITOR not in user_roles(user):
        return None
    granted = granted_departments(user)
    # The claim's department path starts with a granted department's path ("/1/4/" covers "/1/4/9/").
    in_granted_tree = Exists(granted.filter(StartsWith(OuterRef("department__path"), F("path"))))
    return Q(submission_count__gt=0) & (~Exists(granted) | Q(in_granted_tree))


def auditor_may_reveal(user: Any, *, employee_id: int) -> bool:
    """An auditor reveals a bank or ID number only of someone whose claims they may read."""
    q = auditor_claims_q(user)
    return q is not None and Claim.objects.filter(q, claimant_id=employee_id).exists()


@transaction.atomic
def auditor_grant(*, user: Any, departments: Iterable[Department] = (), actor: Any | None = None) -> list[str]:
    """Give ``user`` the auditor role and, when named, departments to audit; returns the granted codes."""
    group = Group.objects.get(name=Role.AUDITOR)
    user.groups.add(group)
    codes = []
    for department in departments:
        assign_perm(AUDIT_DEPARTMENT, user, department)
        codes.append(department.code)
    audit_record(action="auditor.granted", target=user, actor=actor, data={"departments": codes})
    return [d.code for d in granted_departments(user).order_by("path")]


@transaction.atomic
def auditor_revoke(*, user: Any, departments: Iterable[Department] = (), actor: Any | None = None) -> list[str]:
    """Take departments from an auditor, or with none named the role and every grant; returns what is left.

    Taking the last department widens the auditor's sight to every submitted claim: the caller says so.
    """
    departments = list(departments)
    if not departments:
        departments = list(granted_departments(user))
        user.groups.remove(Group.objects.get(name=Role.AUDITOR))
        action = "auditor.revoked"
    else:
        action = "auditor.departments_revoked"
    for department in departments:
        remove_perm(AUDIT_DEPARTMENT, user, department)
    audit_record(action=action, target=user, actor=actor, data={"departments": [d.code for d in departments]})
    return [d.code for d in granted_departments(user).order_by("path")]
