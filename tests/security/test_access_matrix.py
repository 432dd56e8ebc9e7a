"""The access matrix (tests/security/matrix_table.py) run for every role, with three checks on every
answer: the status the table expects, no claim number the role may not see, and no bank account or ID
number in clear (only finance's bank file carries account numbers). Plus: every URL pattern of the
project is in the table or exempt, so a new endpoint cannot escape it.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from reimbursement.models import Claim
from reimbursement.selectors import claims_visible_to
from tests.security.matrix_table import CLEAR_NUMBERS_ALLOWED, EXEMPT, FOREIGN_CLAIMS_ALLOWED, ROLES, TABLE
from tests.security.matrix_world import build_matrix_world, resolve
from tests.security.test_headers import csp_problems
from tests.security.world import CANARY_ACCOUNT, CANARY_ID

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

CLAIM_NUMBER = re.compile(r"BX-\d{4}-\d{6}")
DISCOVER = os.environ.get("MATRIX_DISCOVER")


def all_url_names() -> set[str]:
    names: set[str] = set()

    def walk(resolver: URLResolver, namespace: str | None) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                walk(pattern, f"{namespace}:{inner}" if namespace and inner else inner or namespace)
            elif isinstance(pattern, URLPattern):
                name = pattern.name or f"<unnamed {pattern.pattern}>"
                names.add(f"{namespace}:{name}" if namespace else name)

    walk(get_resolver(), None)
    return names


def test_every_url_pattern_is_in_the_table_or_exempt():
    covered = {name for name, *_ in TABLE}
    exempt_prefixes = tuple(key[:-1] for key in EXEMPT if key.endswith("*"))
    missing = sorted(n for n in all_url_names() - covered - set(EXEMPT) if not n.startswith(exempt_prefixes))
    assert not missing, f"add these URL names to tests/security/matrix_table.py: {missing}"
    unknown = sorted(covered - all_url_names())
    assert not unknown, f"the table names URLs that no longer exist: {unknown}"


def client_for(world, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        user = world.user(role)
        client.force_login(user)
        token, _ = Token.objects.get_or_create(user=user)
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return client


def verdict(expected: str, response) -> bool:
    status = response.status_code
    location = response.headers.get("Location", "")
    to_login = status == 302 and urlsplit(location).path == reverse("login")
    if expected == "login":
        return to_login
    if expected == "no":
        return status == 404
    if expected == "ok":
        return status < 500 and status not in (401, 403, 404) and not to_login
    return status == int(expected)


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False


@pytest.mark.parametrize("role", ROLES)
def test_the_access_matrix_holds_for(role, demo_company):
    world = build_matrix_world(demo_company)
    column = ROLES.index(role)
    client = client_for(world, role)
    visible = set()
    if role != "anonymous":
        visible = set(claims_visible_to(world.user(role)).values_list("number", flat=True))
    all_numbers = set(Claim.objects.values_list("number", flat=True))
    wrong, leaks, seen = [], [], []
    for name, method, kwargs, answers, *body in TABLE:
        expected = answers.split()[column]
        url = reverse(name, kwargs={key: resolve(world, spec) for key, spec in kwargs.items()})
        data = json.dumps(body[0]) if body else ""
        with transaction.atomic():
            response = client.generic(method, url, data, content_type="application/json" if body else None)
            body = body_of(response)
            transaction.set_rollback(True)
        seen.append(f"{name} {kwargs} {response.status_code}")
        if not verdict(expected, response):
            wrong.append(f"{method} {url} ({name} {kwargs}): expected {expected}, got {response.status_code}")
        foreign = {n for n in CLAIM_NUMBER.findall(body) if n in all_numbers} - visible
        if foreign and response.status_code < 300 and (name, role) not in FOREIGN_CLAIMS_ALLOWED:
            leaks.append(f"{method} {url}: claims not visible to {role}: {sorted(foreign)}")
        clear = [n for n in CANARY_ID.values() if n in body]
        if (name, role) in CLEAR_NUMBERS_ALLOWED:
            # The detector is live: the bank file does carry the payee's number in clear.
            assert CANARY_ACCOUNT["zhangwei"] in body, f"{name}: no account number in the bank file"
        else:
            clear += [n for n in CANARY_ACCOUNT.values() if n in body]
        if clear:
            leaks.append(f"{method} {url}: bank or ID numbers in clear: {clear}")
        leaks += [f"{method} {url}: {problem}" for problem in csp_problems(response)]
    if DISCOVER:
        print("\n".join(seen))
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)
