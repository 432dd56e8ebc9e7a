"""Writes to the org chart. The directory sync and the demo seed both go through these.

``people``: one department, employee, manager or role at a time; ``directory``: a whole outside org chart
applied in bulk with the same invariants.
"""

from org.services.directory import (
    DirectoryApplyResult,
    DirectoryDepartmentRecord,
    DirectoryPersonRecord,
    org_directory_apply,
)
from org.services.people import (
    department_create,
    department_move,
    department_set_head,
    employee_create,
    employee_set_active,
    employee_set_manager,
    user_set_roles,
)

__all__ = [
    "DirectoryApplyResult",
    "DirectoryDepartmentRecord",
    "DirectoryPersonRecord",
    "department_create",
    "department_move",
    "department_set_head",
    "employee_create",
    "employee_set_active",
    "employee_set_manager",
    "org_directory_apply",
    "user_set_roles",
]
