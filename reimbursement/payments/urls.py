"""Finance pages, mounted at /finance/."""

from django.urls import path

from reimbursement.payments import views

app_name = "finance"

urlpatterns = [
    path("", views.queue_view, name="queue"),
    path("batches/", views.batch_list_view, name="batches"),
    path("batches/new/", views.batch_create_view, name="batch_create"),
    path("batches/<int:batch_id>/", views.batch_detail_view, name="batch"),
    path("batches/<int:batch_id>/bank-file/", views.bank_file_view, name="bank_file"),
    path("batches/<int:batch_id>/paid/", views.mark_paid_view, name="mark_paid"),
    path("payments/<int:payment_id>/fail/", views.payment_fail_view, name="payment_fail"),
    path("claims/<int:claim_id>/void/", views.claim_void_view, name="claim_void"),
    path("journal/", views.journal_view, name="journal"),
]
