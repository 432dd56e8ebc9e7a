import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.preflight import run_or_exit  # noqa: E402

# Exit code 3 tells gunicorn the worker cannot boot, so it stops instead of restarting it in a loop.
application = run_or_exit(get_wsgi_application, exit_code=3)
