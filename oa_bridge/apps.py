from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OaBridgeConfig(AppConfig):
    name = "oa_bridge"
    verbose_name = _("OA bridge")

    def ready(self) -> None:
        from oa_bridge import subscribers  # noqa: F401 - registers the outbox subscriber
