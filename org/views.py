"""Pages of the org chart: the signed-in person's home and the company directory."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from org.models import Department, Employee
from org.selectors import department_ancestors, department_tree, employee_for_user, manager_chain, user_roles


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Who I am: name, department path, manager chain and roles."""
    employee = employee_for_user(request.user)
    context = {
        "employee": employee,
        "chain": manager_chain(employee) if employee else [],
        "department_path": department_ancestors(employee.department, include_self=True) if employee else [],
        "roles": sorted(user_roles(request.user)),
    }
    return render(request, "org/home.html", context)


@login_required
def directory(request: HttpRequest) -> HttpResponse:
    """The department tree with heads and head counts (two queries at any size)."""
    departments = department_tree()
    counts = dict(
        Employee.objects.filter(active=True)
        .values_list("department")
        .annotate(n=Count("id"))
        .values_list("department", "n")
    )
    for department in departments:
        department.member_count = counts.get(department.pk, 0)
    return render(request, "org/directory.html", {"departments": departments})


@login_required
def department_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One department's active members with their managers."""
    department = get_object_or_404(Department.objects.select_related("head"), pk=pk, active=True)
    query = request.GET.get("q", "").strip()
    members = Employee.objects.filter(department=department, active=True).select_related("manager", "user")
    if query:
        members = members.filter(Q(name__icontains=query) | Q(employee_no__icontains=query))
    context = {
        "department": department,
        "path": department_ancestors(department, include_self=True),
        "members": members.order_by("-level", "name"),
        "q": query,
    }
    return render(request, "org/department.html", context)
