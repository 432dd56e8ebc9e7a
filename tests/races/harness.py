"""The one race harness: N threads released by one barrier, each answering what happened to it.

An attempt is a callable returning a short outcome string ("decided", "409", ...). Through the API, a
response status is the answer (a 500 is counted, never raised); through the services, an
ApplicationError answers its status and anything else is counted as "raised ...", so a failure in a thread
is never lost and always shows in the assertion's diff.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from django.db import IntegrityError, connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.errors import ApplicationError

THREADS = 50


def all_at_once(attempts: list[Callable[[], str]]) -> Counter:
    """Run each attempt in its own thread (own database connection), all released by one barrier."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = [""] * len(attempts)

    def run(index: int, attempt: Callable[[], str]) -> None:
        try:
            barrier.wait(timeout=60)
            outcomes[index] = attempt()
        except Exception as exc:  # anything unexpected is counted, never lost in a thread
            outcomes[index] = f"raised {type(exc).__name__}: {exc}"[:200]
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return Counter(outcomes)


def service_outcome(call: Callable[[], object], done: Callable[[object], str]) -> str:
    """Call a service: its result named by ``done``, a domain error by its HTTP status."""
    try:
        result = call()
    except ApplicationError as exc:
        return str(exc.status)
    except IntegrityError:
        return "500 IntegrityError"  # what the API would answer
    return done(result)


def client_for(user) -> APIClient:
    """Made before the threads start (the token too), so the threads only race on the action."""
    client = APIClient()
    client.raise_request_exception = False  # a server error is an answer to count: 500
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
