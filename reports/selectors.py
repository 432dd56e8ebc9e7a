"""Who may read the compliance reports, over which claims, and the filters every report shares.

Finance and admins read every submitted claim; auditors exactly the claims ``claims_visible_to`` grants
them through the auditor rule (every submitted claim, or their granted departments and those below);
anyone else has no reports at all (the pages answer 404).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.db.models.lookups import StartsWith
from django.utils import timezone

from org.choices import Role
from org.models import Department
from org.selectors import user_roles
from reimbursement.auditor import auditor_claims_q, granted_departments
from reimbursement.models import Claim

# Finance and auditors (separation of duties: an administrator configures the system and looks at money only
# with one of these roles too, as for the dashboards).
REPORT_ROLES = frozenset({Role.FINANCE, Role.AUDITOR})


@dataclass(frozen=True)
class ReportParams:
    """The filters of one run of a report: local days from and to (inclusive), and a department subtree."""

    date_from: datetime.date
    date_to: datetime.date
    department: Department | None = None

    @property
    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """[start of date_from, start of the day after date_to) in the site's time zone."""
        zone = timezone.get_current_timezone()
        start = datetime.datetime.combine(self.date_from, datetime.time.min, tzinfo=zone)
        end = datetime.datetime.combine(self.date_to + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
        return start, end

    def as_json(self) -> dict[str, Any]:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "department": self.department.pk if self.department else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportParams:
        department = Department.objects.filter(pk=data["department"]).first() if data.get("department") else None
        return cls(
            date_from=datetime.date.fromisoformat(data["date_from"]),
            date_to=datetime.date.fromisoformat(data["date_to"]),
            department=department,
        )


def may_read_reports(user: Any) -> bool:
    return bool(user.is_authenticated and REPORT_ROLES & user_roles(user))


def report_claims(user: Any | None, params: ReportParams | None = None, *, drafts: bool = False) -> QuerySet[Claim]:
    """The claims ``user``'s reports cover (None: the whole company, for the monthly report); lazy, meant
    as a subquery. Anyone without a reporting role gets no claims.

    ``drafts``: also claims never submitted (a submit refused for a duplicate invoice leaves a draft). A
    draft has no department snapshot yet: its claimant's department stands in, for the department filter
    and for an auditor's granted departments alike.
    """
    roles = user_roles(user) if user is not None and user.is_authenticated else set()
    submitted = Q() if drafts else Q(submission_count__gt=0)
    if user is None or Role.FINANCE in roles:
        claims = Claim.objects.filter(submitted)
    elif Role.AUDITOR in roles:
        if drafts:
            granted = granted_departments(user)
            in_tree = Exists(granted.filter(StartsWith(OuterRef("department__path"), F("path"))))
            draft_in_tree = Exists(granted.filter(StartsWith(OuterRef("claimant__department__path"), F("path"))))
            claims = Claim.objects.filter(
                ~Exists(granted) | Q(in_tree) | (Q(department__isnull=True) & Q(draft_in_tree))
            )
        else:
            claims = Claim.objects.filter(auditor_claims_q(user))
    else:
        return Claim.objects.none()
    if params is not None and params.department is not None:
        path = params.department.path
        in_department = Q(department__path__startswith=path)
        if drafts:
            in_department |= Q(department__isnull=True, claimant__department__path__startswith=path)
        claims = claims.filter(in_department)
    return claims


def claim_ids_as_text(claims: QuerySet[Claim]) -> QuerySet:
    """The claims' ids as text, to match audit events (whose target ids are text) in a subquery."""
    return claims.annotate(pk_text=Cast("pk", CharField())).values("pk_text")
