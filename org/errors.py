from config.errors import ApplicationError


class OrgError(ApplicationError):
    """An org-chart change that cannot be made; the message says why."""

    code = "org_invalid"
