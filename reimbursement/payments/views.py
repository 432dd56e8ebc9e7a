"""Finance pages, mounted at /finance/: the payment queue, batches (bank file, paid, failed), voiding a
claim and the accounting export. Everyone without the finance role gets 404 on every one of them.

The few forms live here rather than in reimbursement/forms.py: they belong to these pages alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.errors import ApplicationError, NotFoundError
from reimbursement.models import Claim, Payment, PaymentBatch, PaymentStatus
from reimbursement.payments import exports, selectors, services
from reimbursement.services.transitions import TRANSITIONS

QUEUE_PAGE_SIZE = 100
BATCH_PAGE_SIZE = 25


def finance_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and holding the finance role; anyone else is told the page does not exist."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not services.is_finance(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _int_list(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


# --- Forms ----------------------------------------------------------------------------------------


class ServiceErrorsMixin:
    def show_errors(self, exc: ApplicationError) -> None:
        """Put the service's field messages beside the fields (or on the form when none matches)."""
        placed = False
        for field, errors in exc.fields.items():
            if field in self.fields:
                for error in errors:
                    self.add_error(field, error)
                placed = True
        if not placed:
            self.add_error(None, exc.message)


class MarkPaidForm(ServiceErrorsMixin, forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("Bank reference"),
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    paid_on = forms.DateField(
        label=gettext_lazy("Paid on"),
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
    )


class ReasonForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )


class JournalForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("Approved from"),
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("to"),
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
    )
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[("csv", "CSV"), ("xlsx", "Excel (XLSX)")],
        initial="csv",
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


def _invalid(form: forms.Form) -> None:
    for field in form.fields.values():
        widget_class = field.widget.attrs.get("class", "")
        field.widget.attrs["class"] = widget_class.replace(" is-invalid", "")
    for name in form.errors:
        if name in form.fields:
            form.fields[name].widget.attrs["class"] += " is-invalid"


# --- Queue and batches ----------------------------------------------------------------------------


def _queue_context(request: HttpRequest, *, selected: set[int] | None = None, error: str = "") -> dict[str, Any]:
    queue = selectors.payment_queue(request.user)
    currency = (request.GET.get("currency") or "").upper()
    q = (request.GET.get("q") or "").strip()
    currencies = sorted(set(queue.order_by().values_list("base_currency", flat=True).distinct()))
    if currency:
        queue = queue.filter(base_currency=currency)
    if q:
        queue = queue.filter(
            Q(number__icontains=q) | Q(claimant__name__icontains=q) | Q(claimant__employee_no__iexact=q)
        )
    page = Paginator(queue, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    totals = (
        Claim.objects.filter(pk__in=queue.values("pk"))
        .values("base_currency")
        .annotate(total=Sum("approved_amount"), count=Count("id"))
        .order_by("base_currency")
        if page.paginator.count
        else []
    )
    claims = list(page.object_list)
    if selected is None:
        selected = {c.pk for c in claims} if request.GET.get("all") else set()
    for claim in claims:
        claim.account = getattr(claim.claimant, "payee_account", None)
        claim.selected = claim.pk in selected
    return {
        "page": page,
        "claims": claims,
        "totals": totals,
        "currencies": currencies,
        "currency": currency,
        "q": q,
        "filtered": bool(currency or q),
        "error": error,
        "without_account": sum(1 for c in claims if c.account is None),
    }


@finance_only
def queue_view(request: HttpRequest) -> HttpResponse:
    """Approved claims waiting for payment: tick some (of one currency) and make a batch of them."""
    return render(request, "finance/queue.html", _queue_context(request))


@finance_only
@require_POST
def batch_create_view(request: HttpRequest) -> HttpResponse:
    claim_ids = _int_list(request.POST.getlist("claim"))
    try:
        batch = services.batch_create(actor=request.user, claim_ids=claim_ids, note=request.POST.get("note", ""))
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        context = _queue_context(request, selected=set(claim_ids), error=exc.message)
        return render(request, "finance/queue.html", context, status=exc.status)
    messages.success(
        request,
        _("Batch %(batch)s made: %(n)d claims, %(total)s %(currency)s. Export its bank file next.")
        % {"batch": batch, "n": batch.payment_count, "total": batch.total_amount, "currency": batch.currency},
    )
    return redirect("finance:batch", batch_id=batch.pk)


@finance_only
def batch_list_view(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.batch_list(request.user), BATCH_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "finance/batch_list.html", {"page": page, "batches": page.object_list})


def _batch_context(request: HttpRequest, batch_id: int, **extra: Any) -> dict[str, Any]:
    try:
        batch = selectors.batch_detail(request.user, batch_id)
    except PaymentBatch.DoesNotExist:
        raise Http404 from None
    payments = list(batch.payments.all())
    sums = {status: Decimal("0.00") for status in PaymentStatus.values}
    for payment in payments:
        sums[payment.status] += payment.amount
    payees = len({p.payee_id for p in payments if p.status == PaymentStatus.PENDING})
    form = extra.pop("form", None) or MarkPaidForm(initial={"paid_on": timezone.localdate()})
    return {
        "batch": batch,
        "payments": payments,
        "sums": sums,
        "pending_payees": payees,
        "pending_count": sum(1 for p in payments if p.status == PaymentStatus.PENDING),
        "failed_count": sum(1 for p in payments if p.status == PaymentStatus.FAILED),
        "form": form,
        **extra,
    }


@finance_only
def batch_detail_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    return render(request, "finance/batch_detail.html", _batch_context(request, batch_id))


@finance_only
@require_POST
def bank_file_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The bank file as a download; the export is audited by the service. A POST: it reveals accounts."""
    try:
        result = services.batch_export_bank_file(batch_id=batch_id, actor=request.user)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("finance:batch", batch_id=batch_id)
    response = HttpResponse(result.content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@finance_only
@require_POST
def mark_paid_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    form = MarkPaidForm(request.POST)
    if form.is_valid():
        try:
            done = services.batch_mark_paid(
                batch_id=batch_id,
                actor=request.user,
                reference=form.cleaned_data["reference"],
                paid_on=form.cleaned_data["paid_on"],
            )
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            if exc.fields:
                form.show_errors(exc)
            else:
                messages.error(request, exc.message)
                return redirect("finance:batch", batch_id=batch_id)
        else:
            if done.newly_paid:
                messages.success(
                    request,
                    _("Batch %(batch)s is paid: %(n)d claims marked paid.")
                    % {"batch": done.batch, "n": done.newly_paid},
                )
            else:
                messages.info(
                    request, _("Batch %(batch)s was already marked paid; nothing changed.") % {"batch": done.batch}
                )
            return redirect("finance:batch", batch_id=batch_id)
    _invalid(form)
    return render(request, "finance/batch_detail.html", _batch_context(request, batch_id, form=form), status=400)


@finance_only
def payment_fail_view(request: HttpRequest, payment_id: int) -> HttpResponse:
    """Record that the bank refused one payment; its claim goes back to the queue."""
    payment = Payment.objects.select_related("batch", "claim", "payee").filter(pk=payment_id).first()
    if payment is None:
        raise Http404
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.payment_mark_failed(payment_id=payment.pk, actor=request.user, reason=form.cleaned_data["reason"])
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            if not exc.fields:
                messages.error(request, exc.message)
                return redirect("finance:batch", batch_id=payment.batch_id)
            form.show_errors(exc)
        else:
            messages.success(
                request,
                _("The payment of %(claim)s is marked failed; the claim is back in the payment queue.")
                % {"claim": payment.claim},
            )
            return redirect("finance:batch", batch_id=payment.batch_id)
    _invalid(form)
    status = 400 if request.method == "POST" else 200
    return render(request, "finance/payment_fail.html", {"payment": payment, "form": form}, status=status)


# The states the transition table lets finance void from (a claim being paid needs its payment failed first).
VOIDABLE = TRANSITIONS["void"][0]


@finance_only
def claim_void_view(request: HttpRequest, claim_id: int) -> HttpResponse:
    """Void a claim with a reason (finance only); it is final."""
    from reimbursement.selectors import claims_visible_to

    claim = claims_visible_to(request.user).select_related("claimant").filter(pk=claim_id).first()
    if claim is None:
        raise Http404
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.claim_void(claim_id=claim.pk, actor=request.user, reason=form.cleaned_data["reason"])
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            if not exc.fields:
                messages.error(request, exc.message)
                return redirect("finance:queue")
            form.show_errors(exc)
        else:
            messages.success(request, _("Claim %(claim)s is voided.") % {"claim": claim})
            return redirect("finance:queue")
    _invalid(form)
    context = {"claim": claim, "form": form, "voidable": claim.status in VOIDABLE}
    return render(request, "finance/claim_void.html", context, status=400 if request.method == "POST" else 200)


# --- Accounting export ----------------------------------------------------------------------------


@finance_only
def journal_view(request: HttpRequest) -> HttpResponse:
    """Pick a range of approval dates and a format; the file is the answer, or the form says why not."""
    today = timezone.localdate()
    submitted = "date_from" in request.GET
    form = JournalForm(
        request.GET if submitted else None, initial={"date_from": today.replace(day=1), "date_to": today}
    )
    if submitted and form.is_valid():
        data = form.cleaned_data
        lines = selectors.journal_lines(request.user, date_from=data["date_from"], date_to=data["date_to"])
        if lines.exists():
            return journal_response(lines, data["date_from"], data["date_to"], data["format"] or "csv")
        form.add_error(
            None,
            _("No claims were approved between %(start)s and %(end)s: there is nothing to export.")
            % {"start": data["date_from"], "end": data["date_to"]},
        )
    _invalid(form)
    return render(
        request,
        "finance/journal.html",
        {"form": form, "payable_account": exports.payable_account()},
        status=400 if form.errors else 200,
    )


def journal_response(lines: Any, date_from: datetime.date, date_to: datetime.date, fmt: str) -> HttpResponse:
    """The journal file: CSV streamed row by row, XLSX from a temporary file; shared with the API."""
    name = f"journal-{date_from:%Y%m%d}-{date_to:%Y%m%d}"
    rows = exports.journal_rows(lines)
    if fmt == "xlsx":
        response = FileResponse(
            exports.journal_xlsx(rows),
            as_attachment=True,
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        chunks = (text.encode("utf-8") for text in exports.journal_csv(rows))
        response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response["Cache-Control"] = "no-store"
    return response
