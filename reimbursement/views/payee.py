"""The employee's own bank account for reimbursements. Numbers go in; only masked numbers come out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from config.errors import ApplicationError, NotFoundError
from org.selectors import employee_for_user
from reimbursement.forms import PayeeAccountForm
from reimbursement.models import PayeeAccount
from reimbursement.services import payee_account_set


@login_required
def payee_account_view(request: HttpRequest) -> HttpResponse:
    """Enter or change the account; the numbers are never written back into the page, even on an error."""
    employee = employee_for_user(request.user)
    if employee is None:
        raise Http404
    # The employee's own row: reading it needs no selector beyond "mine" (nobody else's is reachable).
    account = PayeeAccount.objects.filter(employee=employee).first()
    if request.method == "POST":
        form = PayeeAccountForm(request.POST)
        if form.is_valid():
            try:
                payee_account_set(employee=employee, actor=request.user, **form.cleaned_data)
            except NotFoundError as exc:
                raise Http404(exc.message) from exc
            except ApplicationError as exc:
                form.show_errors(exc)
            else:
                messages.success(request, _("Your bank account was saved."))
                return redirect("reimbursement:bank_account")
    else:
        initial = {}
        if account:
            initial = {"account_name": account.account_name, "bank_name": account.bank_name, "branch": account.branch}
        else:
            initial = {"account_name": employee.name}
        form = PayeeAccountForm(initial=initial)
    return render(request, "reimbursement/payee_account.html", {"form": form, "account": account})
