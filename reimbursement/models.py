"""Claims and what they are made of.

A claim moves through these states, each move made by one service in reimbursement.services (or in
approvals / finance services for the later states), never by saving ``status`` directly::

    draft ──submit──► submitted ──route──► in_approval ──► approved ──► paying ──► paid
      ▲                 │   │                 │  │  │
      │        withdraw │   └──── return ─────┘  │  └── reject ──► rejected
      └── edit ◄── withdrawn / returned ◄────────┘
    any state before paid ── void (finance) ──► voided

Money is Decimal(13, 2) with its currency beside it; each line stores the FX rate it was converted with
and its amount in the claim's base currency, computed once.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from reimbursement.choices import ClaimStatus, FxRateSource, InvoiceKind, PolicyAction, PolicyKind

MONEY = {"max_digits": 13, "decimal_places": 2}
RATE = {"max_digits": 18, "decimal_places": 8}


class ExpenseCategory(models.Model):
    """A kind of expense (travel, meals, hotel...) with its accounting code."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    accounting_code = models.CharField(_("accounting code"), max_length=32, blank=True)
    receipt_required_above = models.DecimalField(
        _("receipt required above"),
        **MONEY,
        null=True,
        blank=True,
        help_text=_("In the base currency; empty means a receipt is always optional."),
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("expense category")
        verbose_name_plural = _("expense categories")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_zh if (translation.get_language() or "").startswith("zh") else self.name_en


class FxRate(models.Model):
    """Units of the base currency for one unit of ``currency`` on ``date``, maintained by admins."""

    currency = models.CharField(_("currency"), max_length=3)
    base_currency = models.CharField(_("base currency"), max_length=3, default="CNY")
    date = models.DateField(_("date"))
    rate = models.DecimalField(_("rate"), **RATE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("FX rate")
        verbose_name_plural = _("FX rates")
        ordering = ["currency", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "base_currency", "date"], name="fx_rate_one_per_day"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.base_currency} ({self.date})"


class Claim(models.Model):
    """An expense claim: the lines one employee asks to be reimbursed for, in one base currency."""

    # Null until the row exists (the number embeds the id); unique among numbered claims.
    number = models.CharField(_("number"), max_length=32, unique=True, null=True, editable=False)  # noqa: DJ001
    claimant = models.ForeignKey(
        "org.Employee", on_delete=models.PROTECT, related_name="claims", verbose_name=_("claimant")
    )
    # Snapshot at submit: the department the claim was made for, even if the claimant moves later.
    department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("department"),
    )
    department_name = models.CharField(max_length=200, blank=True)
    purpose = models.CharField(_("purpose"), max_length=500)
    cost_centre = models.CharField(_("cost centre"), max_length=64, blank=True)
    project = models.CharField(_("project"), max_length=64, blank=True)
    base_currency = models.CharField(_("base currency"), max_length=3)
    total_amount = models.DecimalField(_("total"), **MONEY, default=Decimal("0.00"))
    approved_amount = models.DecimalField(_("approved total"), **MONEY, null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.DRAFT)
    # Incremented for every event sent about this claim, so receivers can drop stale snapshots.
    event_seq = models.PositiveIntegerField(default=0, editable=False)
    submission_count = models.PositiveSmallIntegerField(default=0, editable=False)
    # The claim as it was last submitted, to show approvers what changed on a resubmission.
    last_submitted_snapshot = models.JSONField(null=True, blank=True, editable=False)
    # Set at each resubmission: what differs from the previous submission (reimbursement.snapshots).
    changes_since_last_submission = models.JSONField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["claimant", "status", "-created_at"], name="claim_claimant_status_idx"),
            models.Index(fields=["status", "-submitted_at"], name="claim_status_submitted_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(total_amount__gte=0), name="claim_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft #{self.pk}"

    @property
    def is_editable(self) -> bool:
        from reimbursement.choices import EDITABLE_STATUSES

        return self.status in EDITABLE_STATUSES


class ClaimLine(models.Model):
    """One expense on a claim, with its invoice data and its amount in the claim's base currency."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    expense_date = models.DateField(_("date"))
    category = models.ForeignKey(ExpenseCategory, on_delete=models.PROTECT, verbose_name=_("category"))
    description = models.CharField(_("description"), max_length=500, blank=True)
    merchant = models.CharField(_("merchant"), max_length=200, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    fx_rate = models.DecimalField(_("FX rate"), **RATE)
    fx_rate_source = models.CharField(max_length=8, choices=FxRateSource.choices, default=FxRateSource.BASE)
    fx_override_reason = models.CharField(_("reason for the rate"), max_length=300, blank=True)
    base_amount = models.DecimalField(_("amount in base currency"), **MONEY)
    tax_amount = models.DecimalField(_("tax"), **MONEY, default=Decimal("0.00"))
    # Set by approvers who cut the line (approvals issue); None means approved as claimed.
    approved_amount = models.DecimalField(_("approved amount"), **MONEY, null=True, blank=True)
    invoice_kind = models.CharField(
        _("invoice kind"), max_length=20, choices=InvoiceKind.choices, default=InvoiceKind.NONE
    )
    invoice_code = models.CharField(_("invoice code"), max_length=12, blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=32, blank=True)
    invoice_date = models.DateField(_("invoice date"), null=True, blank=True)
    seller_name = models.CharField(_("seller"), max_length=200, blank=True)
    seller_tax_id = models.CharField(_("seller tax id"), max_length=20, blank=True)
    # Normalised invoice identity ("VAT:<code>:<number>"); unique across live claims via InvoiceRegistration.
    invoice_key = models.CharField(max_length=80, blank=True, db_index=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("claim line")
        verbose_name_plural = _("claim lines")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="claim_line_amount_positive"),
            models.CheckConstraint(condition=models.Q(tax_amount__gte=0), name="claim_line_tax_not_negative"),
            models.CheckConstraint(condition=models.Q(fx_rate__gt=0), name="claim_line_fx_rate_positive"),
        ]
        indexes = [models.Index(fields=["category", "expense_date"], name="claim_line_category_date_idx")]

    def __str__(self) -> str:
        return f"{self.expense_date} {self.amount} {self.currency}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Generated names only: the uploaded name is kept in a field, never used on disk.
    return f"receipts/{instance.uploaded_at:%Y/%m}/{instance.uuid.hex}{instance.extension}"


class Attachment(models.Model):
    """A receipt or invoice file of a line: image, PDF, OFD or XML, checked by content, not by name."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    line = models.ForeignKey(ClaimLine, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    extension = models.CharField(max_length=8)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class InvoiceRegistration(models.Model):
    """Claims an invoice for one live claim. The unique key is the database's guarantee that the same
    invoice is never reimbursed twice, whatever races the application checks miss. Rows are written at
    submit and removed when the claim is withdrawn, rejected or voided."""

    invoice_key = models.CharField(max_length=80, unique=True)
    line = models.OneToOneField(ClaimLine, on_delete=models.CASCADE, related_name="invoice_registration")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="invoice_registrations")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.invoice_key


class PolicyRule(models.Model):
    """A spending rule set by admins: a cap, a receipt threshold or a maximum age, to block or warn."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=PolicyKind.choices)
    action = models.CharField(_("action"), max_length=8, choices=PolicyAction.choices, default=PolicyAction.WARN)
    category = models.ForeignKey(
        ExpenseCategory,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        verbose_name=_("category"),
        help_text=_("Empty: every category."),
    )
    department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        verbose_name=_("department"),
        help_text=_("Empty: everyone. Sub-departments are included."),
    )
    level_min = models.PositiveSmallIntegerField(_("from level"), null=True, blank=True)
    level_max = models.PositiveSmallIntegerField(_("to level"), null=True, blank=True)
    amount = models.DecimalField(
        _("amount"), **MONEY, null=True, blank=True, help_text=_("In the base currency, for caps and receipts.")
    )
    days = models.PositiveIntegerField(_("days"), null=True, blank=True, help_text=_("For the maximum age."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("policy rule")
        verbose_name_plural = _("policy rules")
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="max_age", days__gt=0) | (~models.Q(kind="max_age") & models.Q(amount__gte=0)),
                name="policy_rule_has_its_limit",
            )
        ]

    def __str__(self) -> str:
        return self.name


class PolicyWarning(models.Model):
    """A warning a claim was submitted with, and the claimant's justification, shown to approvers."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="policy_warnings")
    line = models.ForeignKey(ClaimLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    submission = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=64)  # "policy:12" or a built-in rule such as "duplicate_file"
    message = models.CharField(max_length=500)
    justification = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submission", "id"]

    def __str__(self) -> str:
        return self.message


class PayeeAccount(models.Model):
    """The bank account an employee is paid into. Numbers are encrypted at rest (config.crypto) with the
    row and field as associated data; only the last four digits are stored in clear, for masking."""

    employee = models.OneToOneField("org.Employee", on_delete=models.PROTECT, related_name="payee_account")
    account_name = models.CharField(_("account holder"), max_length=200)
    bank_name = models.CharField(_("bank"), max_length=200)
    branch = models.CharField(_("branch"), max_length=200, blank=True)
    account_number_encrypted = models.TextField(editable=False)
    account_number_last4 = models.CharField(max_length=4, editable=False)
    account_number_index = models.CharField(max_length=64, db_index=True, editable=False)
    id_number_encrypted = models.TextField(editable=False, blank=True)
    id_number_last4 = models.CharField(max_length=4, editable=False, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("payee account")
        verbose_name_plural = _("payee accounts")

    def __str__(self) -> str:
        return f"{self.bank_name} {self.masked_account_number}"

    @property
    def masked_account_number(self) -> str:
        return f"**** **** **** {self.account_number_last4}"

    @property
    def masked_id_number(self) -> str:
        return f"**************{self.id_number_last4}" if self.id_number_last4 else ""


class PaymentBatchStatus(models.TextChoices):
    OPEN = "open", _("Awaiting payment")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


# A claim has at most one payment in these states: the database refuses a second (payment_one_live_per_claim).
LIVE_PAYMENT_STATUSES = (PaymentStatus.PENDING, PaymentStatus.PAID)


class PaymentBatch(models.Model):
    """A payment run: approved claims finance pays together in one currency (reimbursement.payments).

    ``open`` (claims are ``paying``; the bank file may be exported, again if need be) ──mark paid──►
    ``paid`` (reference and date recorded; its pending payments are paid). A batch whose every payment
    failed is ``failed``. Failing one payment returns its claim to the queue and leaves the batch open.
    """

    number = models.CharField(_("number"), max_length=32, unique=True, null=True, editable=False)  # noqa: DJ001
    status = models.CharField(
        _("status"), max_length=8, choices=PaymentBatchStatus.choices, default=PaymentBatchStatus.OPEN
    )
    currency = models.CharField(_("currency"), max_length=3)
    total_amount = models.DecimalField(_("total"), **MONEY, default=Decimal("0.00"))
    payment_count = models.PositiveIntegerField(_("payments"), default=0)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_by_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    exported_at = models.DateTimeField(_("last exported"), null=True, blank=True)
    export_count = models.PositiveSmallIntegerField(_("exports"), default=0)
    paid_reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_by_name = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("payment batch")
        verbose_name_plural = _("payment batches")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(total_amount__gte=0), name="payment_batch_total_not_negative"),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | (models.Q(paid_on__isnull=False) & ~models.Q(paid_reference="")),
                name="payment_batch_paid_has_reference_and_date",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"batch #{self.pk}"


class Payment(models.Model):
    """One claim's payment in a batch. At most one live (pending or paid) payment per claim, kept by the
    database; a failed one stays for the record, with its reason, and the claim may be batched again."""

    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="payments")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="payments")
    payee = models.ForeignKey("org.Employee", on_delete=models.PROTECT, related_name="+", verbose_name=_("payee"))
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=8, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    # The payee account as it was when the batch was made: masked for display, and the blind index so the
    # export can refuse an account changed since (the claim must then be batched again, deliberately).
    account_bank = models.CharField(_("bank"), max_length=200)
    account_last4 = models.CharField(max_length=4)
    account_index = models.CharField(max_length=64, editable=False)
    failure_reason = models.CharField(_("reason for the failure"), max_length=500, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failed_by_name = models.CharField(max_length=200, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim"],
                condition=models.Q(status__in=["pending", "paid"]),
                name="payment_one_live_per_claim",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["claim", "-created_at"], name="payment_claim_created_idx")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    @property
    def masked_account_number(self) -> str:
        return f"**** **** **** {self.account_last4}"
