"""Forms of the approver pages: the inbox filters, the decisions on a task, delegation.

As on the claim pages, the forms only turn what was typed into values (ids, dates, amounts); the
services decide what is allowed, and their ApplicationError.fields come back onto the fields with
``show_errors``, so a rule (e.g. "a rejection needs a reason") lives in one place for pages and API.
"""

from __future__ import annotations

import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, QuerySet
from django.forms.boundfield import BoundField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from approvals.models import ApprovalTask
from config.errors import ApplicationError
from org.models import Department, Employee
from org.selectors import department_descendants
from reimbursement.models import ClaimLine
from reimbursement.selectors import active_categories

# --- Shared plumbing --------------------------------------------------------------------------------


class BootstrapBoundField(BoundField):
    """Marks the widget of a field with errors as invalid and ties it to its messages for screen readers."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.errors:
            # These attrs override the widget's own, so keep its classes (form-control...) beside ours.
            base = attrs.get("class") or (widget or self.field.widget).attrs.get("class", "")
            attrs["class"] = f"{base} is-invalid".strip()
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = f"{self.auto_id}-errors"
        return attrs


class BootstrapForm(forms.Form):
    """Bootstrap classes on every widget, and a way to put a service's field errors on the form.

    (The claim pages have the same base in reimbursement/forms.py; kept apart while both are young.)
    """

    bound_field_class = BootstrapBoundField
    # Service field names that mean one of this form's fields (the services say "assignee" for a person).
    field_aliases: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput | forms.RadioSelect):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def show_errors(self, error: ApplicationError) -> None:
        """Attach the service's messages to their fields; the rest (and the summary) to the form."""
        placed = False
        for name, messages in error.fields.items():
            name = self.field_aliases.get(name, name)
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
            placed = placed or target is not None
        if not placed:
            self.add_error(None, error.message)


class PersonChoiceField(forms.ModelChoiceField):
    """A plain <select> of active employees, labelled with their department so namesakes differ."""

    def __init__(self, **kwargs: Any) -> None:
        queryset = Employee.objects.filter(active=True).select_related("department").order_by("name", "employee_no")
        super().__init__(queryset=queryset, **kwargs)

    def label_from_instance(self, obj: Employee) -> str:
        return f"{obj.name} · {obj.department.name}"


def people_except(field: forms.ModelChoiceField, *employee_ids: int | None) -> None:
    """Leave the given people (the signed-in approver, the claimant) out of a person picker."""
    ids = [pk for pk in employee_ids if pk is not None]
    if ids:
        field.queryset = field.queryset.exclude(pk__in=ids)


def _comment(label: Any = None, *, rows: int = 2) -> forms.CharField:
    return forms.CharField(
        label=label or _("Comment (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


def _reason(label: Any) -> forms.CharField:
    # Not required here: the service says what is missing, in the same words for the page and the API.
    # The widget still says `required`, so a browser asks before posting.
    widget = forms.Textarea(attrs={"rows": 3, "required": True})
    return forms.CharField(label=label, required=False, max_length=4000, widget=widget)


# --- The inbox --------------------------------------------------------------------------------------

AGE_CHOICES = [
    ("1", _("Waiting 1 day or more")),
    ("3", _("Waiting 3 days or more")),
    ("7", _("Waiting a week or more")),
]
SORT_CHOICES = [
    ("due", _("Due first")),
    ("age", _("Waiting longest")),
    ("amount", _("Largest amount")),
]
SORTS = {
    "due": (F("due_at").asc(nulls_last=True), "id"),
    "age": (F("activated_at").asc(nulls_last=True), "id"),
    "amount": ("-claim__total_amount", "id"),
}


class DepartmentChoiceField(forms.ModelChoiceField):
    """Departments in tree order, indented by depth (an em space per level)."""

    def label_from_instance(self, obj: Department) -> str:
        return "\u2003" * obj.depth + obj.name


class DepartmentChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = DepartmentChoiceField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Department.objects.filter(active=True).order_by("path"), **kwargs)


class InboxFilterSet(django_filters.FilterSet):
    """Filters and sorting of the approver's inbox. (An inbox API would share it: move it to
    approvals/filtersets.py then, beside the API.)"""

    department = DepartmentChoiceFilter(method="filter_department", label=_("Department"), empty_label=_("All"))
    category = django_filters.ModelChoiceFilter(
        queryset=active_categories(), method="filter_category", label=_("Category"), empty_label=_("All")
    )
    amount_min = django_filters.NumberFilter(
        field_name="claim__total_amount", lookup_expr="gte", label=_("Amount from"), min_value=0
    )
    amount_max = django_filters.NumberFilter(
        field_name="claim__total_amount", lookup_expr="lte", label=_("Amount to"), min_value=0
    )
    age = django_filters.ChoiceFilter(choices=AGE_CHOICES, method="filter_age", label=_("Age"), empty_label=_("Any"))
    sort = django_filters.ChoiceFilter(choices=SORT_CHOICES, method="keep", label=_("Sort"), empty_label=None)

    class Meta:
        model = ApprovalTask
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} form-control-sm" if css == "form-control" else f"{css} form-select-sm"
        self.form.fields["amount_min"].widget.attrs.update({"inputmode": "decimal", "placeholder": _("from")})
        self.form.fields["amount_max"].widget.attrs.update({"inputmode": "decimal", "placeholder": _("to")})

    @property
    def qs(self) -> QuerySet[ApprovalTask]:
        sort = ""
        if self.is_bound and self.form.is_valid():
            sort = self.form.cleaned_data.get("sort") or ""
        return super().qs.order_by(*SORTS.get(sort, SORTS["due"]))

    @property
    def is_filtered(self) -> bool:
        data = self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}
        return any(
            data.get(name) not in (None, "") for name in ("department", "category", "amount_min", "amount_max", "age")
        )

    def filter_department(self, queryset, name, value):
        return queryset.filter(claim__department__in=department_descendants(value, include_self=True))

    def filter_category(self, queryset, name, value):
        lines = ClaimLine.objects.filter(claim_id=OuterRef("claim_id"), category=value)
        return queryset.filter(Exists(lines))

    def filter_age(self, queryset, name, value):
        since = timezone.now() - datetime.timedelta(days=int(value))
        return queryset.filter(activated_at__lte=since)

    def keep(self, queryset, name, value):
        return queryset  # sorting happens in ``qs``, also when no sort was asked for


class TaskIdsField(forms.Field):
    """The ticked rows of the inbox: a list of task ids."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        ids = []
        for item in value if isinstance(value, list | tuple) else [value]:
            try:
                ids.append(int(item))
            except (TypeError, ValueError):
                raise forms.ValidationError(_("Unknown task.")) from None
        return ids

    def validate(self, value):
        super().validate(value)
        if len(value) > 200:
            raise forms.ValidationError(_("Approve at most 200 claims at once."))


class BulkApproveForm(BootstrapForm):
    task = TaskIdsField(
        label=_("Claims"), error_messages={"required": _("Tick the claims to approve first.")}, required=True
    )
    comment = _comment()


# --- Decisions on one task --------------------------------------------------------------------------


class ApproveForm(BootstrapForm):
    comment = _comment()


class RejectForm(BootstrapForm):
    reason = _reason(_("Why is it rejected?"))


class ReturnForm(BootstrapForm):
    reason = _reason(_("What should the claimant change?"))


class TransferForm(BootstrapForm):
    field_aliases = {"assignee": "to"}
    to = PersonChoiceField(label=_("Transfer to"), empty_label=_("Choose a person"))
    comment = _comment(_("Why (optional)"))


class AddApproverForm(BootstrapForm):
    field_aliases = {"assignee": "approver"}
    POSITIONS = [("before", _("Before me: they decide first, then me")), ("after", _("After me: a new step"))]

    approver = PersonChoiceField(label=_("Approver"), empty_label=_("Choose a person"))
    position = forms.ChoiceField(
        label=pgettext_lazy("where an added approver goes", "When"),
        choices=POSITIONS,
        initial="after",
        widget=forms.RadioSelect,
    )
    comment = _comment(_("Why (optional)"))


class CutLineForm(BootstrapForm):
    line = forms.TypedChoiceField(label=_("Line"), coerce=int)
    amount = forms.DecimalField(
        label=_("Approved amount"), max_digits=13, decimal_places=2, min_value=0, widget=forms.TextInput()
    )
    reason = _reason(_("Why is it cut?"))

    def __init__(self, *args: Any, lines: list | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [
            (line.pk, f"{number}. {line.category.name} · {line.base_amount}")
            for number, line in enumerate(lines or [], 1)
        ]
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal"})
        self.fields["reason"].widget.attrs["rows"] = 2


class CommentForm(BootstrapForm):
    text = forms.CharField(
        label=_("Comment"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2, "required": True})
    )


# --- Delegation -------------------------------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class DelegationForm(BootstrapForm):
    delegate = PersonChoiceField(label=_("Delegate"), empty_label=_("Choose a person"))
    starts_on = forms.DateField(label=_("From"), widget=DateInput())
    ends_on = forms.DateField(label=_("Until"), widget=DateInput())
    categories = forms.ModelMultipleChoiceField(
        label=_("Only these categories (optional)"),
        queryset=active_categories(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, employee_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people_except(self.fields["delegate"], employee_id)
        if not self.is_bound:
            today = timezone.localdate()
            self.initial.setdefault("starts_on", today)
            self.initial.setdefault("ends_on", today + datetime.timedelta(days=7))
