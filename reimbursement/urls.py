"""The employee's claim pages, mounted at /claims/."""

from django.urls import path

from reimbursement import views
from reimbursement.views import pack

app_name = "reimbursement"

urlpatterns = [
    path("", views.claim_list, name="my_claims"),
    path("new/", views.claim_new, name="new"),
    path("bank-account/", views.payee_account_view, name="bank_account"),
    path("<int:claim_id>/", views.claim_detail_view, name="detail"),
    path("<int:claim_id>/edit/", views.claim_edit, name="edit"),
    path("<int:claim_id>/submit/", views.claim_submit_view, name="submit"),
    path("<int:claim_id>/withdraw/", views.claim_withdraw_view, name="withdraw"),
    path("<int:claim_id>/delete/", views.claim_delete_view, name="delete"),
    path("<int:claim_id>/print/", views.claim_print, name="print"),
    path("<int:claim_id>/audit-pack.pdf", pack.claim_pack_pdf, name="pack_pdf"),
    path("<int:claim_id>/audit-pack.zip", pack.claim_pack_zip, name="pack_zip"),
    path("<int:claim_id>/lines/add/", views.line_add_view, name="line_add"),
    path("<int:claim_id>/lines/<int:line_id>/", views.line_row_view, name="line_row"),
    path("<int:claim_id>/lines/<int:line_id>/edit/", views.line_edit_view, name="line_edit"),
    path("<int:claim_id>/lines/<int:line_id>/remove/", views.line_remove_view, name="line_remove"),
    path("<int:claim_id>/lines/<int:line_id>/files/", views.attachment_upload_view, name="attachment_upload"),
    path("attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("attachments/<int:attachment_id>/remove/", views.attachment_remove_view, name="attachment_remove"),
]
