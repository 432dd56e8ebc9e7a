"""Paying approved claims (issue 6): the finance queue, payment batches, the bank file, marking paid or
failed, voiding, and the accounting export. Models live in reimbursement.models (PaymentBatch, Payment)."""
