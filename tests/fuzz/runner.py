"""Drive schemathesis over every operation of /api/schema/ as one signed-in role, in process (WSGI).

Each generated request runs inside a savepoint that is rolled back afterwards, so one case cannot delete
the objects the next one needs and the world stays as tests/security/world.py made it. Path ids are drawn
from the world's real objects as well as from all integers, so cases reach past the 404 of an unknown id.
Failures are collected, not raised at the first one, so a run reports every failing operation at once.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class OperationResult:
    label: str
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def load_schema(id_pools: dict[str, list[int]]) -> Any:
    """The served schema, its integer path ids widened to prefer the given real ids, bound to the WSGI app."""
    raw = json.loads(Client().get("/api/schema/", HTTP_ACCEPT="application/json").content)
    fuzzed = copy.deepcopy(raw)
    for item in fuzzed["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                pool = id_pools.get(parameter["name"])
                if parameter["in"] == "path" and pool:
                    parameter["schema"] = {"anyOf": [{"enum": pool}, parameter["schema"]]}
    schema = schemathesis.openapi.from_dict(fuzzed)
    schema.app = get_wsgi_application()
    return schema


@contextlib.contextmanager
def connection_kept_open():
    """As Django's test client does: a request must not close the test's connection (and its transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def fuzz_role(
    schema: Any,
    *,
    token: str | None,
    max_examples: int,
    secrets: list[str] = (),
    allow_clear: set[str] = frozenset(),
) -> list[OperationResult]:
    """Every operation, ``max_examples`` generated cases each, as the holder of ``token`` (None: anonymous).

    A response containing one of ``secrets`` (canary bank and ID numbers) fails, except for the operations
    named in ``allow_clear`` (labels such as ``POST /finance/batches/{batch_id}/export/``)."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    results = []
    for found in schema.get_all_operations():
        operation = found.ok()
        result = OperationResult(label=operation.label)
        results.append(result)

        with connection_kept_open():
            _run_operation(
                operation, result, headers=headers, max_examples=max_examples, secrets=secrets, allow_clear=allow_clear
            )
    return results


def _run_operation(
    operation: Any,
    result: OperationResult,
    *,
    headers: dict,
    max_examples: int,
    secrets: list[str],
    allow_clear: set[str],
) -> None:
    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        result.cases += 1
        with transaction.atomic():
            try:
                response = case.call(headers=headers)
                result.statuses[response.status_code] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)
                clear = [secret for secret in secrets if secret in response.text]
                if clear and not (allow_clear and case.operation.label in allow_clear):
                    raise AssertionError(f"bank or ID numbers in clear: {clear}")
            except (Exception, BaseExceptionGroup) as exc:  # every failure is collected for the summary
                result.failures.append(f"{case.method} {case.formatted_path} -> {_describe(exc)}")
            finally:
                transaction.set_rollback(True)

    run()


def _describe(exc: BaseException) -> str:
    """The failure in a few lines: its kind, what was received, the curl command to reproduce it."""
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    keep = [line for line in text if not line.startswith(("<", "`<", "Schemathesis found"))]
    return " | ".join(keep[:12])[:1500]


def summary(role: str, results: list[OperationResult]) -> str:
    cases = sum(r.cases for r in results)
    failing = [r for r in results if r.failures]
    statuses = sum((r.statuses for r in results), Counter())
    lines = [
        f"{role}: {len(results)} operations, {cases} cases "
        f"(min {min(r.cases for r in results)} per operation), {len(failing)} failing; "
        f"statuses {dict(sorted(statuses.items()))}"
    ]
    for r in failing:
        lines.append(f"  {r.label}: {len(r.failures)} failures, first: {r.failures[0]}")
    return "\n".join(lines)
