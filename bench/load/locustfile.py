"""The mixed workload of ``make load`` (bench/load/run.py starts it): employees, approvers and finance
through the REST API, each signed in with a token of its own.

Employees list their claims, open one, and now and then write a claim with two lines, upload a receipt to
it, check it (preflight) and submit it, justifying any warning. Approvers look at their inbox and approve
the first task. Finance looks at the payment queue. Every request is named by its type, not its URL, so
the figures group by what a person does. Accounts come from the runner (LOAD_EMPLOYEES, LOAD_APPROVERS,
LOAD_FINANCE: comma-separated ``username:token``; the runner makes the tokens beforehand, so the password
hashing of a sign-in is not part of the mix). An entry without a token signs in with LOAD_PASSWORD.
"""

from __future__ import annotations

import datetime
import io
import itertools
import os
import random
import uuid

from locust import HttpUser, between, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "baoxiao-demo")
_pools = {
    role: itertools.cycle(os.environ.get(f"LOAD_{role.upper()}", "").split(","))
    for role in ("employees", "approvers", "finance")
}


def results(response) -> list[dict]:
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


def receipt() -> bytes:
    """A small PNG of a random colour: each upload a different file, as real receipts are."""
    from PIL import Image

    buffer = io.BytesIO()
    colour = tuple(random.randrange(256) for _ in range(3))  # noqa: S311 - test data
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class ApiUser(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    role = ""

    def on_start(self) -> None:
        username, _, token = next(_pools[self.role]).partition(":")
        if not token:
            answer = self.client.post(
                "/api/v1/auth/token/", json={"username": username, "password": PASSWORD}, name="sign in (token)"
            )
            token = answer.json()["token"]
        self.client.headers["Authorization"] = f"Token {token}"


class Employee(ApiUser):
    weight = 6
    role = "employees"

    def on_start(self) -> None:
        super().on_start()
        categories = results(self.client.get("/api/v1/categories/", name="categories"))
        self.categories = {c["code"]: c["id"] for c in categories}
        self.claim_ids: list[int] = []

    @task(4)
    def list_claims(self) -> None:
        claims = results(self.client.get("/api/v1/claims/", name="list claims"))
        self.claim_ids = [c["id"] for c in claims][:25]

    @task(3)
    def open_claim(self) -> None:
        if self.claim_ids:
            self.client.get(f"/api/v1/claims/{random.choice(self.claim_ids)}/", name="open a claim")  # noqa: S311

    @task(1)
    def write_and_submit(self) -> None:
        day = (datetime.date.today() - datetime.timedelta(days=3)).isoformat()
        lines = [
            {"expense_date": day, "category": self.categories["office"], "amount": "88.00", "currency": "CNY"},
            {"expense_date": day, "category": self.categories["taxi"], "amount": "36.50", "currency": "CNY"},
        ]
        created = self.client.post(
            "/api/v1/claims/",
            json={"purpose": "Customer visit", "lines": lines},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            name="create a claim with lines",
        )
        if created.status_code != 201:
            return
        claim = created.json()
        url = f"/api/v1/claims/{claim['id']}/"
        self.client.post(
            f"{url}lines/{claim['lines'][0]['id']}/attachments/",
            files={"file": ("receipt.png", receipt(), "image/png")},
            name="upload a receipt",
        )
        hits = self.client.get(f"{url}preflight/", name="preflight").json().get("hits", [])
        justifications = {h["key"]: "Needed for the customer visit" for h in hits if h["severity"] == "warn"}
        with self.client.post(
            f"{url}submit/", json={"justifications": justifications}, name="submit", catch_response=True
        ) as answer:
            if answer.status_code >= 400:  # keep the error code: it says which check refused the claim
                answer.failure(f"{answer.status_code} {answer.text[:200]}")


class Approver(ApiUser):
    weight = 3
    role = "approvers"

    @task(3)
    def inbox(self) -> None:
        self.client.get("/api/v1/approvals/inbox/", name="approver inbox")

    @task(1)
    def approve(self) -> None:
        tasks = results(self.client.get("/api/v1/approvals/inbox/", name="approver inbox"))
        tasks = [t for t in tasks if t.get("can_act", True)]
        if not tasks:
            return
        with self.client.post(
            f"/api/v1/approval-tasks/{tasks[0]['id']}/approve/",
            json={"comment": "OK"},
            name="approve",
            catch_response=True,
        ) as answer:
            if answer.status_code == 409:  # a colleague on the same account decided it first: the designed answer
                answer.success()


class Finance(ApiUser):
    weight = 1
    role = "finance"

    @task
    def queue(self) -> None:
        self.client.get("/api/v1/finance/queue/", name="finance queue")
