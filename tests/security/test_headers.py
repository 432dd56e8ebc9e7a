"""Sign-in lockout, security headers and the static checks: the lockout holds for the attacked account
only; every HTML page carries a CSP without 'unsafe-inline' (checked on every HTML answer of the access
matrix through ``csp_problems``); production answers with HSTS, secure cookies and a clean
``check --deploy``; bandit finds nothing of medium severity or above."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from org.demo.company import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ATTACKER = "203.0.113.7"  # documentation range: never routed, only a REMOTE_ADDR here


def csp_problems(response) -> list[str]:
    """What is wrong with an HTML answer's Content-Security-Policy (empty when it is right)."""
    if not response.headers.get("Content-Type", "").startswith("text/html"):
        return []
    policy = response.headers.get("Content-Security-Policy", "")
    if not policy:
        return ["no Content-Security-Policy header"]
    problems = [f"{word} in the policy" for word in ("'unsafe-inline'", "'unsafe-eval'") if word in policy]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
    for name in ("script-src", "style-src"):
        if name not in directives and "default-src" not in directives:
            problems.append(f"no {name} or default-src")
    return problems


def sign_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ATTACKER)


@pytest.mark.django_db
def test_the_lockout_holds_for_the_attacked_account_only(demo_company, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "zhangwei", "wrong password")
    # Now even the right password is refused for zhangwei, by the page and by the token API ...
    locked = sign_in(client, "zhangwei", DEMO_PASSWORD)
    assert locked.status_code in (403, 429) and "_auth_user_id" not in client.session
    api = APIClient(REMOTE_ADDR=ATTACKER)
    token = api.post("/api/v1/auth/token/", {"username": "zhangwei", "password": DEMO_PASSWORD}, format="json")
    assert token.status_code == 429 and token.json()["error"]["code"] == "locked_out"
    # ... while a colleague signs in from the same address, on the page and through the API.
    other = Client()
    assert sign_in(other, "lina", DEMO_PASSWORD).status_code == 302
    assert other.session["_auth_user_id"] == str(demo_company["lina"].user.pk)
    api_ok = api.post("/api/v1/auth/token/", {"username": "lina", "password": DEMO_PASSWORD}, format="json")
    assert api_ok.status_code == 200 and api_ok.json()["token"]


@pytest.mark.django_db
def test_pages_signed_in_or_not_carry_the_strict_policy(demo_company):
    client = Client()
    assert csp_problems(client.get("/accounts/login/")) == []
    client.force_login(demo_company["zhangwei"].user)
    for url in ("/", "/claims/", "/claims/new/", "/approvals/", "/api/docs/"):
        response = client.get(url)
        assert response.status_code == 200 and csp_problems(response) == [], (url, response.headers)


def _production_env(tmp_path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BAOXIAO_", "DATABASE_", "REDIS_"))}
    return clean | {
        "BAOXIAO_ENV": "production",
        "BAOXIAO_SECRET_KEY": "prod-" + "Zx9Qw8Er7T" * 6,
        "BAOXIAO_ALLOWED_HOSTS": "baoxiao.example.com",
        "BAOXIAO_AUDIT_HMAC_KEY": "h" * 43,
        "BAOXIAO_VAR_DIR": str(tmp_path),
    }


def test_production_sends_hsts_and_secure_cookies_and_passes_check_deploy(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests/security/production_probe.py")],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["check_ok"], probe["check_output"]
    # Plain HTTP is sent to HTTPS; over HTTPS the answer pins HTTPS for a year, subdomains included.
    assert probe["plain_status"] == 301 and probe["plain_location"].startswith("https://")
    headers = {k.lower(): v for k, v in probe["headers"].items()}
    assert probe["secure_status"] == 200
    hsts = headers["strict-transport-security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert probe["cookies"], "the sign-in page sets the CSRF cookie"
    for name, flags in probe["cookies"].items():
        assert flags["secure"] and flags["samesite"] == "Lax", (name, flags)


def test_bandit_finds_nothing_of_medium_severity_or_above():
    # Every application package: the ones pyproject.toml installs, so a new app is scanned too.
    with open(ROOT / "pyproject.toml", "rb") as config:
        packages = [
            name.rstrip("*") for name in tomllib.load(config)["tool"]["setuptools"]["packages"]["find"]["include"]
        ]
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", *packages, "-c", "pyproject.toml", "-ll"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
