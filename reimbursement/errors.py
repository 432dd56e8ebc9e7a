from config.errors import ApplicationError, ConflictError, NotFoundError

__all__ = ["ApplicationError", "ConflictError", "NotFoundError", "PolicyBlocked", "JustificationMissing"]


class PolicyBlocked(ApplicationError):
    """The claim breaks a blocking policy rule; ``fields`` names the lines and rules."""

    code = "policy_blocked"


class JustificationMissing(ApplicationError):
    """A policy warning has no justification; ``fields`` lists the warnings that need one."""

    code = "justification_required"
