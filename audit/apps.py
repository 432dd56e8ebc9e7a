from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from django.conf import settings

        from audit import chain

        # Every audited write needs the chain key: in production, refuse to start without it rather than
        # fail the first action of the day (ConfigError is printed as one line by manage.py and wsgi).
        if settings.PRODUCTION:
            chain.hmac_key()
