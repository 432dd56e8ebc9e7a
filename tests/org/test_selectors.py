import pytest

from org import services
from org.errors import OrgError
from org.models import Department
from org.selectors import (
    department_ancestors,
    department_descendants,
    manager_at_level,
    manager_chain,
)
from tests.org.factories import make_chain, make_department, make_employee

pytestmark = pytest.mark.django_db


def test_manager_chain_is_nearest_first_and_costs_two_queries_at_any_depth(django_assert_num_queries):
    chain = make_chain(12)
    bottom = chain[-1]
    with django_assert_num_queries(2):
        managers = manager_chain(bottom)
    assert [m.pk for m in managers] == [e.pk for e in reversed(chain[:-1])]
    with django_assert_num_queries(2):
        assert [m.pk for m in manager_chain(bottom, levels=3)] == [e.pk for e in chain[-2:-5:-1]]


def test_manager_at_level_counts_from_the_direct_manager():
    top, middle, bottom = make_chain(3)
    assert manager_at_level(bottom, level=1) == middle
    assert manager_at_level(bottom, level=2) == top
    assert manager_at_level(bottom, level=3) is None


def test_a_cycle_in_the_data_ends_the_chain_instead_of_looping():
    a, b = make_chain(2)
    # The OA sent a loop (a reports to b, b to a); bypass the service check to simulate bad data.
    type(a).objects.filter(pk=a.pk).update(manager=b)
    b.refresh_from_db()
    assert [m.pk for m in manager_chain(b)] == [a.pk]


def test_setting_a_manager_that_would_loop_is_refused():
    top, bottom = make_chain(2)
    with pytest.raises(OrgError, match="loop"):
        services.employee_set_manager(employee=top, manager=bottom)


def test_ancestors_and_descendants_cost_one_query_each(django_assert_num_queries):
    root = make_department("Root")
    child = make_department("Child", parent=root)
    grandchild = make_department("Grandchild", parent=child)
    other = make_department("Other root")
    with django_assert_num_queries(1):
        assert department_ancestors(grandchild) == [root, child]
    with django_assert_num_queries(1):
        assert set(department_descendants(root)) == {child, grandchild}
    assert department_ancestors(root) == []
    assert list(department_descendants(other)) == []
    assert department_ancestors(grandchild, include_self=True)[-1] == grandchild


def test_moving_a_department_moves_its_whole_subtree():
    a, b = make_department("A"), make_department("B")
    child = make_department("A.child", parent=a)
    grandchild = make_department("A.child.grandchild", parent=child)

    services.department_move(department=child, parent=b)

    grandchild.refresh_from_db()
    assert department_ancestors(grandchild) == [b, Department.objects.get(pk=child.pk)]
    assert grandchild.depth == 2
    assert set(department_descendants(a)) == set()
    assert set(department_descendants(b)) == {child, grandchild}


def test_a_department_cannot_move_under_its_own_subtree():
    a = make_department("A")
    child = make_department("child", parent=a)
    with pytest.raises(OrgError):
        services.department_move(department=a, parent=child)


def test_an_employee_cannot_be_their_own_manager_in_the_database():
    from django.db import IntegrityError, transaction

    employee = make_employee()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(employee).objects.filter(pk=employee.pk).update(manager=employee)
