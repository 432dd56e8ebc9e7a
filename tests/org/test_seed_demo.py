import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from org.models import Department, Employee
from org.selectors import manager_chain, user_roles

pytestmark = pytest.mark.django_db


def snapshot():
    users = list(get_user_model().objects.order_by("pk").values("pk", "username", "password", "is_superuser"))
    departments = list(Department.objects.order_by("pk").values())
    employees = list(Employee.objects.order_by("pk").values())
    return users, departments, employees


def test_seed_demo_builds_a_company_of_three_levels_with_managers_and_heads(capsys):
    call_command("seed_demo")
    output = capsys.readouterr().out
    assert "baoxiao-demo" in output and "zhangwei" in output

    assert Department.objects.count() >= 5
    assert set(Department.objects.values_list("depth", flat=True)) == {0, 1, 2}
    assert Employee.objects.count() >= 30
    assert Employee.objects.filter(manager__isnull=True).count() == 1  # only the CEO
    heads = Department.objects.filter(head__isnull=False).count()
    assert heads >= 5

    zhangwei = Employee.objects.get(user__username="zhangwei")
    assert [m.user.username for m in manager_chain(zhangwei)] == ["liuyang", "chenjie", "wangjianguo"]
    assert "finance" in user_roles(get_user_model().objects.get(username="sunli"))
    assert "auditor" in user_roles(get_user_model().objects.get(username="auditor"))
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and "admin" in user_roles(admin)


def test_running_seed_demo_twice_changes_nothing(capsys):
    call_command("seed_demo")
    before = snapshot()
    call_command("seed_demo")
    assert "nothing changed" in capsys.readouterr().out
    assert snapshot() == before


def test_demo_users_can_sign_in(client):
    call_command("seed_demo", "--quiet-logins")
    response = client.post("/accounts/login/", {"username": "zhangwei", "password": "baoxiao-demo"})
    assert response.status_code == 302 and client.session["_auth_user_id"]
