"""SCIM 2.0 directory (RFC 7643, RFC 7644), read through scim2-client over httpx2.

SCIM has no department resource, so this is the mapping (also in docs for administrators):

* **Groups are departments.** The group's ``id`` is the external id, ``displayName`` the name. A group
  listed as a member (``type: Group``) of another group is that group's sub-department: nested groups,
  as identity providers push them. A group in no other group is a top-level department. (When a group
  sits in several, the first one the server lists is its parent.)
* **Users** map ``id`` → external id; ``displayName`` (else ``name.formatted``, given + family name,
  ``userName``) → name; the primary e-mail (else the first) → e-mail; ``title``; ``active``. The
  enterprise extension gives ``employeeNumber`` → employee number and ``manager.value`` → manager.
* **A user's department** is the group that lists them as a direct member. When several do, the one
  whose ``displayName`` equals the enterprise ``department`` wins, else the deepest one. A user in no
  group whose enterprise ``department`` names exactly one group goes there; otherwise their department
  stays as it is (a new user without one is reported as an error).
* **Not in SCIM:** department heads and job levels. Baoxiao keeps the ones it has (new people start at
  level 1); set them in Baoxiao.
* **Incremental runs** ask for ``filter=meta.lastModified gt "<time>"``.

The connector's directory URL is the SCIM base (``https://idp.example.com/scim/v2``); the API token
in its credentials is sent as a bearer token. ``field_mapping`` may set ``page_size`` (default 200).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    EnterpriseUser,
    Group,
    NotFoundException,
    ResourceType,
    ScimProvider,
    SearchRequest,
    User,
)

from oa_bridge.connectors import register
from oa_bridge.connectors.base import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    BaseConnector,
    DirectoryDepartment,
    DirectoryUser,
    HealthResult,
    _short,
)
from oa_bridge.models import ConnectorKind

ScimUser = User[EnterpriseUser]
# Described up front rather than discovered: three fewer requests per run, and servers whose discovery
# endpoints are incomplete (common) still work.
PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(ScimUser), ResourceType.from_resource(Group)],
)
DEFAULT_PAGE_SIZE = 200


@register(ConnectorKind.SCIM)
class ScimConnector(BaseConnector):
    """A directory served over SCIM 2.0 (Entra ID, Okta, Keycloak and others act as SCIM servers)."""

    directory_keeps = frozenset({"head", "level"})  # SCIM carries neither

    def __init__(self, connector):
        super().__init__(connector)
        self._groups: list[Group] | None = None

    # --- plumbing ----------------------------------------------------------------------------------------
    @property
    def page_size(self) -> int:
        try:
            return max(1, min(1000, int((self.connector.field_mapping or {}).get("page_size", DEFAULT_PAGE_SIZE))))
        except (TypeError, ValueError):
            return DEFAULT_PAGE_SIZE

    def _client(self) -> httpx2.Client:
        token = self.credentials.get("api_token")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.Client(
            base_url=self.connector.directory_url.rstrip("/"),
            headers=headers,
            timeout=httpx2.Timeout(READ_TIMEOUT * 3, connect=CONNECT_TIMEOUT),
        )

    def _all(self, scim: SyncSCIMClient, model: type, scim_filter: str | None = None) -> Iterator[Any]:
        """Every resource of a type, page by page (startIndex/count, RFC 7644 §3.4.2.4)."""
        start = 1
        while True:
            request = SearchRequest(start_index=start, count=self.page_size, filter=scim_filter)
            page = scim.query(model, query_parameters=request)
            resources = page.resources or []
            yield from resources
            start += len(resources)
            if not resources or start > (page.total_results or 0):
                return

    def _all_groups(self, scim: SyncSCIMClient) -> list[Group]:
        if self._groups is None:
            self._groups = list(self._all(scim, Group))
        return self._groups

    # --- departments ---------------------------------------------------------------------------------------
    def _parents(self, groups: list[Group]) -> dict[str, str]:
        parents: dict[str, str] = {}
        for group in groups:
            for member in group.members or []:
                if (member.type or "").lower() == "group" and member.value and member.value not in parents:
                    parents[member.value] = group.id
        return parents

    def iter_departments(self) -> Iterator[DirectoryDepartment]:
        with self._client() as http:
            groups = self._all_groups(SyncSCIMClient(http, provider=PROVIDER))
        parents = self._parents(groups)
        for group in groups:
            yield DirectoryDepartment(
                external_id=group.id,
                name=group.display_name or group.id,
                parent_external_id=parents.get(group.id),
            )

    def fetch_department(self, external_id: str) -> DirectoryDepartment | None:
        with self._client() as http:
            scim = SyncSCIMClient(http, provider=PROVIDER)
            try:
                group = scim.query(Group, external_id)
            except NotFoundException:
                return None
            holders = self._all(scim, Group, f'members.value eq "{_quoted(external_id)}"')
            parent = next((g.id for g in holders if g.id != external_id), None)
        return DirectoryDepartment(external_id=group.id, name=group.display_name or group.id, parent_external_id=parent)

    # --- users ---------------------------------------------------------------------------------------------
    def iter_users(self, *, updated_since: str | None = None) -> Iterator[DirectoryUser]:
        scim_filter = f'meta.lastModified gt "{_quoted(updated_since)}"' if updated_since else None
        with self._client() as http:
            scim = SyncSCIMClient(http, provider=PROVIDER)
            placement = _Placement(self._all_groups(scim))
            for user in self._all(scim, ScimUser, scim_filter):
                yield self._user(user, placement)

    def fetch_user(self, external_id: str) -> DirectoryUser | None:
        with self._client() as http:
            scim = SyncSCIMClient(http, provider=PROVIDER)
            try:
                user = scim.query(ScimUser, external_id)
            except NotFoundException:
                return None
            return self._user(user, _Placement(self._all_groups(scim)))

    def _user(self, user: Any, placement: _Placement) -> DirectoryUser:
        enterprise = user[EnterpriseUser]
        manager = enterprise.manager.value if enterprise and enterprise.manager else None
        return DirectoryUser(
            external_id=user.id,
            name=_display_name(user),
            email=_email(user),
            employee_no=(enterprise.employee_number if enterprise else None) or "",
            department_external_id=placement.department_of(user.id, enterprise.department if enterprise else None),
            manager_external_id=manager or None,
            title=user.title or "",
            active=user.active is not False,
        )

    # --- health --------------------------------------------------------------------------------------------
    def health(self) -> HealthResult:
        if not self.connector.directory_url:
            return HealthResult(False, "No SCIM base URL is configured.")
        try:
            with self._client() as http:
                # Not /ServiceProviderConfig: servers may serve it without a token (RFC 7644 §4).
                SyncSCIMClient(http, provider=PROVIDER).query(ScimUser, query_parameters=SearchRequest(count=1))
        except Exception as exc:  # the SCIM client's errors are many; all mean "cannot read"
            return HealthResult(False, f"The SCIM server cannot be read: {_short(exc)}")
        return HealthResult(True)


class _Placement:
    """Which department (group) each user belongs in, from the groups' member lists."""

    def __init__(self, groups: list[Group]):
        parents: dict[str, str] = {}
        self.by_user: dict[str, list[str]] = {}
        self.by_name: dict[str, list[str]] = {}
        for group in groups:
            self.by_name.setdefault(group.display_name or "", []).append(group.id)
            for member in group.members or []:
                kind = (member.type or "user").lower()
                if kind == "group":
                    parents.setdefault(member.value, group.id)
                elif member.value:
                    self.by_user.setdefault(member.value, []).append(group.id)
        self.names = {group.id: group.display_name or "" for group in groups}
        self.depth: dict[str, int] = {}
        for group in groups:
            node, seen = group.id, set()
            while node in parents and node not in seen:
                seen.add(node)
                node = parents[node]
            self.depth[group.id] = len(seen)

    def department_of(self, user_id: str, department_name: str | None) -> str | None:
        candidates = self.by_user.get(user_id, [])
        if department_name:
            named = [g for g in candidates if self.names.get(g) == department_name]
            if named:
                return named[0]
        if candidates:
            return max(candidates, key=lambda g: self.depth.get(g, 0))
        if department_name and len(self.by_name.get(department_name, [])) == 1:
            return self.by_name[department_name][0]
        return None


def _display_name(user: Any) -> str:
    if user.display_name:
        return user.display_name
    if user.name is not None:
        if user.name.formatted:
            return user.name.formatted
        parts = [user.name.given_name, user.name.family_name]
        if any(parts):
            return " ".join(p for p in parts if p)
    return user.user_name or user.id


def _email(user: Any) -> str:
    emails = user.emails or []
    chosen = next((e for e in emails if e.primary), emails[0] if emails else None)
    return str(chosen.value) if chosen and chosen.value else ""


def _quoted(value: str) -> str:
    """A value inside a SCIM filter's double quotes (RFC 7644 §3.4.2.2 uses JSON string escaping)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
