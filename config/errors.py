"""The one application error type. Views render it as a message, the API as
``{"error": {"code", "message", "fields"}}`` with its HTTP status."""

from __future__ import annotations


class ApplicationError(Exception):
    """A request that cannot be carried out as asked; ``message`` is meant for the person who asked."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ConflictError(ApplicationError):
    """The object is not in a state that allows this (already decided, already paid, ...)."""

    status = 409
    code = "conflict"


class ForbiddenError(ApplicationError):
    """The person may see the object but not do this to it."""

    status = 403
    code = "forbidden"


class NotFoundError(ApplicationError):
    status = 404
    code = "not_found"
