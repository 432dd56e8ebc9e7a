import pytest
from django.contrib.auth import get_user_model

from config.tasks import echo

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_real_worker_runs_a_task_against_the_test_database_and_returns_its_result(celery_worker):
    get_user_model().objects.create_user("worker-probe")

    result = echo.apply_async(args=["hello"], queue=celery_worker.queue).get(timeout=30)

    assert result["value"] == "hello"
    # The worker is another process reading the same (test) database through the broker round trip.
    assert result["users"] == 1
    assert result["pid"] != __import__("os").getpid()
