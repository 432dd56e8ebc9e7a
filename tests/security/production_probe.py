"""Run as a script under BAOXIAO_ENV=production (tests/security/test_headers.py): the deployment checks,
then the sign-in page fetched over HTTPS, as JSON on stdout."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.base import SystemCheckError  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

out = io.StringIO()
try:
    call_command("check", deploy=True, fail_level="WARNING", stdout=out, stderr=out)
    check_ok = True
except SystemCheckError as exc:
    out.write(str(exc))
    check_ok = False
host = os.environ["BAOXIAO_ALLOWED_HOSTS"].split(",")[0]
client = Client(HTTP_HOST=host)
# A deployment runs collectstatic for the hashed manifest; this probe has none, so plain static storage.
plain_static = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
with override_settings(STORAGES=plain_static):
    plain = client.get("/accounts/login/")
    secure = client.get("/accounts/login/", secure=True, HTTP_X_FORWARDED_PROTO="https")
cookies = {
    name: {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]), "samesite": morsel["samesite"]}
    for name, morsel in secure.cookies.items()
}
json.dump(
    {
        "check_ok": check_ok,
        "check_output": out.getvalue(),
        "plain_status": plain.status_code,
        "plain_location": plain.headers.get("Location", ""),
        "secure_status": secure.status_code,
        "headers": dict(secure.headers),
        "cookies": cookies,
    },
    sys.stdout,
)
