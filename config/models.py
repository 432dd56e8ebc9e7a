"""Project-wide tables that belong to no business domain: the API's idempotency records."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """A POST's ``Idempotency-Key`` and the response it got, replayed to a retry of the same request.

    The unique (user, key) pair is what stops two concurrent duplicates from both running: the second
    insert waits for the first transaction and then finds its stored response (config.api.idempotent).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("key"), max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # SHA-256 of the parsed request body, so a retry with other content is told apart from a replay.
    request_hash = models.CharField(max_length=64)
    # Null only inside the transaction that is still producing the response; never seen committed.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]
        indexes = [models.Index(fields=["user", "created_at"], name="idempotency_user_created_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
