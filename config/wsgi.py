import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.preflight import run_or_exit  # noqa: E402

application = run_or_exit(get_wsgi_application)
