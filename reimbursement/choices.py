from django.db import models
from django.utils.translation import gettext_lazy as _


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    IN_APPROVAL = "in_approval", _("In approval")
    RETURNED = "returned", _("Returned")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    REJECTED = "rejected", _("Rejected")
    APPROVED = "approved", _("Approved")
    PAYING = "paying", _("Paying")
    PAID = "paid", _("Paid")
    VOIDED = "voided", _("Voided")


# States in which the claimant may change the claim's content.
EDITABLE_STATUSES = frozenset({ClaimStatus.DRAFT, ClaimStatus.RETURNED, ClaimStatus.WITHDRAWN})
# States from which nothing moves any more.
TERMINAL_STATUSES = frozenset({ClaimStatus.REJECTED, ClaimStatus.PAID, ClaimStatus.VOIDED})
# States whose invoices no longer count for the duplicate-invoice rule.
RELEASED_STATUSES = frozenset({ClaimStatus.REJECTED, ClaimStatus.VOIDED, ClaimStatus.WITHDRAWN, ClaimStatus.DRAFT})


class InvoiceKind(models.TextChoices):
    VAT_SPECIAL = "vat_special", _("VAT special invoice (专票)")
    VAT_ORDINARY = "vat_ordinary", _("VAT ordinary invoice (普票)")
    VAT_DIGITAL = "vat_digital", _("Fully digital invoice (数电票)")
    RECEIPT = "receipt", _("Receipt")
    TRAIN_TICKET = "train_ticket", _("Train ticket")
    FLIGHT_ITINERARY = "flight_itinerary", _("Flight itinerary")
    TAXI_RECEIPT = "taxi_receipt", _("Taxi receipt")
    FOREIGN_RECEIPT = "foreign_receipt", _("Foreign receipt")
    NONE = "none", _("No invoice")


class FxRateSource(models.TextChoices):
    BASE = "base", _("Base currency")
    TABLE = "table", _("Rate table")
    MANUAL = "manual", _("Manual override")


class PolicyKind(models.TextChoices):
    CAP_PER_EXPENSE = "cap_per_expense", _("Cap per expense")
    CAP_PER_DAY = "cap_per_day", _("Cap per day")
    CAP_PER_MONTH = "cap_per_month", _("Cap per month")
    RECEIPT_REQUIRED = "receipt_required", _("Receipt required above")
    MAX_AGE = "max_age", _("Maximum age of an expense")


class PolicyAction(models.TextChoices):
    BLOCK = "block", _("Block")
    WARN = "warn", _("Warn")
