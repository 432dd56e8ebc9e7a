"""The embedded default's OA: the sandbox connector, its org chart (the demo company) and the links
between its ids and ours. Idempotent."""

from __future__ import annotations

import secrets

from django.db import transaction

from oa_bridge.credentials import new_webhook_secret, set_credentials
from oa_bridge.models import Connector, ConnectorKind, SandboxDepartment, SandboxUser
from org.models import Department, DepartmentExternalId, Employee, EmployeeExternalId

SLUG = "sandbox"


@transaction.atomic
def seed_oa_demo() -> dict[str, int]:
    connector, created = Connector.objects.get_or_create(
        slug=SLUG,
        defaults={
            "name": "OA sandbox",
            "kind": ConnectorKind.SANDBOX,
            "directory_enabled": True,
            "sync_interval_minutes": 60,
        },
    )
    if created:
        set_credentials(
            connector,
            {
                "webhook_secrets": [new_webhook_secret()],
                "inbound_secrets": [new_webhook_secret()],
                "api_token": secrets.token_urlsafe(32),
            },
        )
    added = 0
    departments = Department.objects.select_related("parent", "head")
    linked_departments = set(
        DepartmentExternalId.objects.filter(connector=SLUG).values_list("department_id", flat=True)
    )
    for department in departments:
        external_id = f"d-{department.code}"
        if department.pk not in linked_departments:
            DepartmentExternalId.objects.create(department=department, connector=SLUG, external_id=external_id)
        _, made = SandboxDepartment.objects.get_or_create(
            external_id=external_id,
            defaults={
                "name": department.name,
                "parent_external_id": f"d-{department.parent.code}" if department.parent else "",
                "head_external_id": f"u-{department.head.user.username}" if department.head else "",
            },
        )
        added += made
    linked_people = set(EmployeeExternalId.objects.filter(connector=SLUG).values_list("employee_id", flat=True))
    for employee in Employee.objects.select_related("user", "department", "manager__user"):
        external_id = f"u-{employee.user.username}"
        if employee.pk not in linked_people:
            EmployeeExternalId.objects.create(employee=employee, connector=SLUG, external_id=external_id)
        _, made = SandboxUser.objects.get_or_create(
            external_id=external_id,
            defaults={
                "name": employee.name,
                "email": employee.user.email,
                "employee_no": employee.employee_no,
                "department_external_id": f"d-{employee.department.code}",
                "manager_external_id": f"u-{employee.manager.user.username}" if employee.manager else "",
                "title": employee.title,
                "level": employee.level,
                "active": employee.active,
            },
        )
        added += made
    return {"connectors": int(created), "sandbox_records": added}
