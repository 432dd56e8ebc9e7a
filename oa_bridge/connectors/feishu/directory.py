"""Feishu's contact directory in our terms.

Ids: departments by ``open_department_id``, people by ``open_id`` (both need no extra scope, unlike
``user_id``). The root department ``0`` becomes a department named after the connector. A person's
manager is their explicit ``leader_user_id``; without one, the head of their department (the
``leader_user_id`` or main leader of it), and when they head it themselves, the head of the parent
department, up the tree. A resigned or frozen person is inactive.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from oa_bridge.connectors.base import DirectoryDepartment, DirectoryUser

ROOT = "0"
ID_PARAMS = {"department_id_type": "open_department_id", "user_id_type": "open_id"}


def department_head(item: Mapping[str, Any]) -> str | None:
    if item.get("leader_user_id"):
        return str(item["leader_user_id"])
    leaders = item.get("leaders") or []
    main = next((leader for leader in leaders if leader.get("leader_type") == 1), leaders[0] if leaders else None)
    return str(main["leader_id"]) if main and main.get("leader_id") else None


def department_id(item: Mapping[str, Any]) -> str:
    return str(item.get("open_department_id") or item.get("department_id"))


def to_department(item: Mapping[str, Any]) -> DirectoryDepartment:
    parent = str(item.get("parent_department_id") or ROOT)
    deleted = bool((item.get("status") or {}).get("is_deleted"))
    return DirectoryDepartment(
        external_id=department_id(item),
        name=str(item.get("name") or department_id(item)),
        parent_external_id=parent,
        head_external_id=department_head(item),
        active=not deleted,
    )


def root_department(name: str) -> DirectoryDepartment:
    return DirectoryDepartment(external_id=ROOT, name=name, parent_external_id=None)


def primary_department(item: Mapping[str, Any]) -> str | None:
    for order in item.get("orders") or []:
        if order.get("is_primary_dept") and order.get("department_id"):
            return str(order["department_id"])
    ids = item.get("department_ids") or []
    return str(ids[0]) if ids else None


class ManagerResolver:
    """Explicit manager first, then the department head, then up the tree (never oneself)."""

    def __init__(self, departments: list[DirectoryDepartment]):
        self.by_id = {d.external_id: d for d in departments}

    def manager_of(self, user_id: str, explicit: str | None, department: str | None) -> str | None:
        if explicit and explicit != user_id:
            return explicit
        seen: set[str] = set()
        node = department
        while node and node not in seen:
            seen.add(node)
            entry = self.by_id.get(node)
            if entry is None:
                return None
            if entry.head_external_id and entry.head_external_id != user_id:
                return entry.head_external_id
            node = entry.parent_external_id
        return None


def to_user(item: Mapping[str, Any], resolver: ManagerResolver) -> DirectoryUser:
    open_id = str(item.get("open_id"))
    status = item.get("status") or {}
    department = primary_department(item)
    explicit = str(item["leader_user_id"]) if item.get("leader_user_id") else None
    return DirectoryUser(
        external_id=open_id,
        name=str(item.get("name") or item.get("en_name") or open_id),
        email=str(item.get("enterprise_email") or item.get("email") or ""),
        employee_no=str(item.get("employee_no") or ""),
        department_external_id=department,
        manager_external_id=resolver.manager_of(open_id, explicit, department),
        title=str(item.get("job_title") or ""),
        active=not (status.get("is_resigned") or status.get("is_frozen")),
    )


def unique_users(items: Iterator[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """A person in several departments is listed under each: keep the first."""
    seen: set[str] = set()
    for item in items:
        key = str(item.get("open_id"))
        if key not in seen:
            seen.add(key)
            yield item
