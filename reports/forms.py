"""The filter every report shares (date range, department) and the export request."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from org.models import Department
from reports.choices import ExportFormat
from reports.selectors import ReportParams

DATE = {"class": "form-control", "type": "date"}
MAX_RANGE_DAYS = 3660


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs=DATE, format="%Y-%m-%d"))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs=DATE, format="%Y-%m-%d"))
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.filter(active=True).order_by("path"),
        required=False,
        empty_label=_("All departments"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, data: Any = None, **kwargs: Any):
        today = timezone.localdate()
        kwargs.setdefault("initial", {"date_from": today.replace(day=1), "date_to": today})
        super().__init__(data, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end date is before the start date: swap them or pick another."))
            elif end - start > datetime.timedelta(days=MAX_RANGE_DAYS):
                self.add_error("date_from", _("Pick a range of at most ten years."))
        return data

    def params(self) -> ReportParams:
        data = self.cleaned_data
        return ReportParams(date_from=data["date_from"], date_to=data["date_to"], department=data.get("department"))

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] += " is-invalid"


class ExportForm(ReportFilterForm):
    format = forms.ChoiceField(
        label=_("Format"),
        choices=ExportFormat.choices,
        initial=ExportFormat.CSV,
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def clean_format(self) -> str:
        return self.cleaned_data.get("format") or ExportFormat.CSV
