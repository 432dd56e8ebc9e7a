"""Forms of the routing-rule pages: the draft editor, the simulator and the dry run.

The forms turn what was typed into values (amounts, ids, people); the services in
approvals.services.rule_editor decide what is valid and their ApplicationError.fields come back onto the
fields with ``show_errors``, so each rule about rules lives in one place.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.forms.boundfield import BoundField
from django.utils.translation import gettext_lazy as _

from approvals.choices import ReturnPolicy, StepKind, StepMode
from approvals.services.rule_editor import STEP_ROLES, MatrixEntryInput, RuleInput, StepInput
from config.errors import ApplicationError
from org.choices import Role
from org.models import Department, Employee
from reimbursement.models import Claim, ExpenseCategory

# "名字 · E0025": how a person is shown in the pickers; the employee number after the dot finds them.
PERSON_SEPARATOR = " · "


def person_label(employee: Employee) -> str:
    return f"{employee.name}{PERSON_SEPARATOR}{employee.employee_no}"


def people_for_picker() -> list[Employee]:
    """Active people for the shared <datalist> of a page (one query), in department order."""
    return list(Employee.objects.filter(active=True).select_related("department").order_by("department__path", "name"))


class BootstrapBoundField(BoundField):
    """Marks a field with errors as invalid and ties it to its messages for screen readers."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.errors:
            attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = f"{self.auto_id}-errors"
        return attrs


class RulesForm(forms.Form):
    """Bootstrap classes on the widgets, and the services' field errors put back on the fields."""

    bound_field_class = BootstrapBoundField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput | forms.RadioSelect):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def show_errors(self, error: ApplicationError) -> None:
        placed = False
        for name, messages in error.fields.items():
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
            placed = placed or target is not None
        if not placed:
            self.add_error(None, error.message)


class AmountField(forms.CharField):
    """An amount in the base currency; "5,000", "5000" and "5 000.50" all read as numbers."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        text = str(value or "").strip().replace(",", "").replace(" ", "").replace("，", "")
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(_("Enter an amount, e.g. 5000 or 5,000.00.")) from None
        if not amount.is_finite() or amount.as_tuple().exponent < -2 or abs(amount) >= Decimal("1e11"):
            raise forms.ValidationError(_("Enter an amount with at most two decimals."))
        return amount

    def prepare_value(self, value: Any) -> Any:
        return f"{value:f}" if isinstance(value, Decimal) else value


class PersonField(forms.CharField):
    """A person picked from the page's <datalist> ("name · number"), or typed as a number or a name."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"list": "people", "autocomplete": "off", "placeholder": _("Name or number")}),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Employee | None:
        text = str(value or "").strip()
        if not text:
            return None
        number = text.rsplit(PERSON_SEPARATOR.strip(), 1)[-1].strip()
        people = Employee.objects.select_related("department").filter(active=True)
        person = people.filter(employee_no__iexact=number).first()
        if person is None:
            matches = list(people.filter(name=text)[:2]) or list(people.filter(user__username__iexact=text)[:2])
            if len(matches) == 1:
                person = matches[0]
        if person is None:
            raise forms.ValidationError(_("Nobody active is called that; pick a person from the list."))
        return person

    def prepare_value(self, value: Any) -> Any:
        return person_label(value) if isinstance(value, Employee) else value


class DepartmentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Department) -> str:
        return obj.name


class RuleForm(RulesForm):
    """A rule's name and conditions. Field names follow RuleInput, so service errors land in place."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    amount_min = AmountField(label=_("Amount from"), help_text=_("Claims of this amount or more."))
    amount_max = AmountField(label=_("Amount below"), help_text=_("Claims under this amount."))
    departments = DepartmentChoiceField(
        label=_("Departments"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Sub-departments included. None ticked: every department."),
    )
    categories = forms.ModelMultipleChoiceField(
        label=_("Categories"),
        queryset=ExpenseCategory.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Matches when any line has one of them. None ticked: every category."),
    )
    cost_centres = forms.CharField(
        label=_("Cost centres"), max_length=500, required=False, help_text=_("Comma separated; empty: any.")
    )
    projects = forms.CharField(
        label=_("Projects"), max_length=500, required=False, help_text=_("Comma separated; empty: any.")
    )
    level_min = forms.IntegerField(label=_("Claimant level from"), required=False, min_value=0, max_value=99)
    level_max = forms.IntegerField(label=_("Claimant level to"), required=False, min_value=0, max_value=99)
    return_policy = forms.ChoiceField(
        label=_("After a return"), choices=ReturnPolicy.choices, initial=ReturnPolicy.RESTART, widget=forms.RadioSelect
    )
    auto_approve_below = AmountField(
        label=_("Auto-approve below"), help_text=_("Claims under this amount need no approver. Empty: never.")
    )
    audit_sample_percent = forms.IntegerField(
        label=_("Random audit %"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("Share of auto-approvable claims still sent through the steps."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["departments"].queryset = Department.objects.filter(active=True).order_by("path")
        self.fields["categories"].queryset = ExpenseCategory.objects.filter(active=True).order_by("sort_order", "code")

    @staticmethod
    def initial_from(rule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "amount_min": rule.amount_min,
            "amount_max": rule.amount_max,
            "departments": [d.pk for d in rule.departments.all()],
            "categories": [c.pk for c in rule.categories.all()],
            "cost_centres": rule.cost_centres,
            "projects": rule.projects,
            "level_min": rule.level_min,
            "level_max": rule.level_max,
            "return_policy": rule.return_policy,
            "auto_approve_below": rule.auto_approve_below,
            "audit_sample_percent": rule.audit_sample_percent,
        }

    def rule_input(self) -> RuleInput:
        data = self.cleaned_data
        return RuleInput(
            name=data.get("name") or "",
            amount_min=data.get("amount_min"),
            amount_max=data.get("amount_max"),
            department_ids=tuple(d.pk for d in data.get("departments") or ()),
            category_ids=tuple(c.pk for c in data.get("categories") or ()),
            cost_centres=data.get("cost_centres") or "",
            projects=data.get("projects") or "",
            level_min=data.get("level_min"),
            level_max=data.get("level_max"),
            return_policy=data.get("return_policy") or ReturnPolicy.RESTART,
            auto_approve_below=data.get("auto_approve_below"),
            audit_sample_percent=data.get("audit_sample_percent") or 0,
        )


def role_choices() -> list[tuple[str, str]]:
    labels = dict(Role.choices)
    return [("", "—")] + [(r, labels[r]) for r in STEP_ROLES]


class StepForm(RulesForm):
    """One step. Which of levels / role / person shows depends on the kind (CSS, no script needed)."""

    kind = forms.ChoiceField(label=_("Approver"), choices=StepKind.choices, initial=StepKind.DIRECT_MANAGER)
    levels = forms.IntegerField(
        label=_("Levels up"), required=False, min_value=0, max_value=30, initial=1, help_text=_("0 = own department")
    )
    role = forms.ChoiceField(label=_("Role"), required=False)
    named_approver = PersonField(label=_("Person"))
    mode = forms.ChoiceField(label=_("Needs"), choices=StepMode.choices, initial=StepMode.ANY)
    sla_hours = forms.IntegerField(label=_("Due within hours"), min_value=1, max_value=1440, initial=48)
    name = forms.CharField(
        label=_("Step name"), max_length=100, required=False, help_text=_("Optional; shown to approvers.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices()
        self.fields["levels"].widget.attrs["inputmode"] = "numeric"

    @staticmethod
    def initial_from(step) -> dict[str, Any]:
        return {
            "kind": step.kind,
            "levels": step.levels,
            "role": step.role,
            "named_approver": step.named_approver,
            "mode": step.mode,
            "sla_hours": step.sla_hours,
            "name": step.name,
        }

    def step_input(self) -> StepInput:
        data = self.cleaned_data
        person = data.get("named_approver")
        levels = data.get("levels")
        return StepInput(
            kind=data.get("kind") or "",
            name=data.get("name") or "",
            levels=1 if levels is None else levels,
            role=data.get("role") or "",
            named_approver_id=person.pk if person else None,
            mode=data.get("mode") or StepMode.ANY,
            sla_hours=data.get("sla_hours") or 48,
        )


class FallbackForm(RulesForm):
    approver = PersonField(label=_("Fallback approver"))


class DepartmentTreeChoiceField(forms.ModelChoiceField):
    """A department select in tree order, each indented by its depth (an <option> takes no styling)."""

    def label_from_instance(self, obj: Department) -> str:
        return "\u00a0\u00a0\u00a0" * obj.depth + obj.name


class MatrixEntryForm(RulesForm):
    department = DepartmentTreeChoiceField(
        label=_("Department"), queryset=Department.objects.none(), empty_label=_("Choose a department")
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=ExpenseCategory.objects.none(), required=False, empty_label=_("Any category")
    )
    amount_min = AmountField(label=_("Amount from"))
    amount_max = AmountField(label=_("Amount below"))
    approver = PersonField(label=_("Approver"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(active=True).order_by("path")
        self.fields["category"].queryset = ExpenseCategory.objects.filter(active=True).order_by("sort_order", "code")

    def entry_input(self) -> MatrixEntryInput:
        data = self.cleaned_data
        return MatrixEntryInput(
            department_id=data["department"].pk,
            approver_id=data["approver"].pk if data.get("approver") else 0,
            category_id=data["category"].pk if data.get("category") else None,
            amount_min=data.get("amount_min"),
            amount_max=data.get("amount_max"),
        )


class SimulateForm(RulesForm):
    """What to route: an existing claim by number, or a person with an amount and categories."""

    SOURCE_CLAIM, SOURCE_PERSON = "claim", "person"
    RULES_PUBLISHED, RULES_DRAFT = "published", "draft"

    source = forms.ChoiceField(
        label=_("Route"),
        choices=[(SOURCE_PERSON, _("A person and an amount")), (SOURCE_CLAIM, _("An existing claim"))],
        initial=SOURCE_PERSON,
        widget=forms.RadioSelect,
    )
    claim_number = forms.CharField(
        label=_("Claim number"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"list": "recent-claims", "autocomplete": "off", "placeholder": "BX-…"}),
    )
    claimant = PersonField(label=_("Claimant"))
    amount = AmountField(label=_("Amount"))
    categories = forms.ModelMultipleChoiceField(
        label=_("Categories"),
        queryset=ExpenseCategory.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    cost_centre = forms.CharField(label=_("Cost centre"), required=False, max_length=64)
    project = forms.CharField(label=_("Project"), required=False, max_length=64)
    rules = forms.ChoiceField(
        label=_("Against"),
        choices=[(RULES_PUBLISHED, _("The published rules")), (RULES_DRAFT, _("The draft"))],
        initial=RULES_PUBLISHED,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, has_draft: bool = True, has_published: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = ExpenseCategory.objects.filter(active=True).order_by("sort_order", "code")
        self.fields["amount"].label = _("Amount (%(currency)s)") % {"currency": settings.BAOXIAO_BASE_CURRENCY}
        self.has_draft, self.has_published = has_draft, has_published
        if not has_published:
            self.fields["rules"].initial = self.RULES_DRAFT

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("rules") == self.RULES_DRAFT and not self.has_draft:
            self.add_error("rules", _("There is no draft; start one on the rules page."))
        if data.get("rules") == self.RULES_PUBLISHED and not self.has_published:
            self.add_error("rules", _("Nothing is published yet; simulate the draft."))
        if data.get("source") == self.SOURCE_CLAIM:
            number = (data.get("claim_number") or "").strip()
            if not number:
                self.add_error("claim_number", _("Enter the claim's number."))
            else:
                claim = Claim.objects.select_related("claimant__department").filter(number__iexact=number).first()
                if claim is None:
                    self.add_error("claim_number", _("No claim has that number."))
                data["claim"] = claim
        else:
            if data.get("claimant") is None and "claimant" not in self.errors:
                self.add_error("claimant", _("Pick the person who claims."))
            if data.get("amount") is None and "amount" not in self.errors:
                self.add_error("amount", _("Enter the amount in the base currency."))
            elif data.get("amount") is not None and data["amount"] < 0:
                self.add_error("amount", _("Amounts cannot be negative."))
        return data


class DryRunForm(RulesForm):
    days = forms.IntegerField(label=_("Claims submitted in the last … days"), min_value=1, max_value=365, initial=30)
