"""The org chart mirrored from the OA: departments in a tree and the employees in them.

Departments keep a materialized path (``/1/4/9/``) so a department's ancestors and descendants are one
query each. Employees point at their manager; the manager chain is read with a recursive CTE
(org/selectors.py). Neither is ever deleted: claims and audit events refer to them, so leaving the
company or closing a department only clears ``active``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A node of the department tree."""

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=64, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # "/<root id>/.../<own id>/": maintained by org.services, never edited by hand. On PostgreSQL Django
    # adds a varchar_pattern_ops index beside the plain one, so the prefix match for descendants is indexed.
    path = models.CharField(max_length=1024, editable=False, db_index=True, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)
    head = models.ForeignKey(
        "Employee",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["path"]
        # Granted per department with django-guardian (manage.py grant_auditor): an auditor holding it sees
        # the claims of that department and the ones below it only (reimbursement/auditor.py).
        permissions = [("audit_department", _("Can audit the claims of this department and those below it"))]

    def __str__(self) -> str:
        return self.name

    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent, read from the path without a query."""
        return [int(part) for part in self.path.strip("/").split("/")[:-1] if part]


class Employee(models.Model):
    """A person of the company, one-to-one with a sign-in account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="employee", verbose_name=_("user")
    )
    employee_no = models.CharField(_("employee number"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="employees", verbose_name=_("department")
    )
    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        verbose_name=_("manager"),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    level = models.PositiveSmallIntegerField(_("level"), default=1, help_text=_("Job level, 1 = entry."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")
        ordering = ["employee_no"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(manager=models.F("id")), name="org_employee_not_own_manager")
        ]

    def __str__(self) -> str:
        return self.name


class DepartmentExternalId(models.Model):
    """The id a department has in one OA connector; the directory sync maps by it, never by name."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="external_ids")
    connector = models.SlugField(max_length=64)
    external_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "external_id"], name="org_department_external_id_unique"),
            models.UniqueConstraint(fields=["connector", "department"], name="org_department_one_id_per_connector"),
        ]

    def __str__(self) -> str:
        return f"{self.connector}:{self.external_id}"


class EmployeeExternalId(models.Model):
    """The id an employee has in one OA connector."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="external_ids")
    connector = models.SlugField(max_length=64)
    external_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "external_id"], name="org_employee_external_id_unique"),
            models.UniqueConstraint(fields=["connector", "employee"], name="org_employee_one_id_per_connector"),
        ]

    def __str__(self) -> str:
        return f"{self.connector}:{self.external_id}"
