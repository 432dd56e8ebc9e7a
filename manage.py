#!/usr/bin/env python
"""Django's command-line utility for Baoxiao."""

import os
import sys

# Commands that serve or change data check the database and Redis first, so a wrong DATABASE_URL or
# an unreachable Redis is one clear line instead of a traceback halfway through.
PREFLIGHT_COMMANDS = {"runserver", "migrate", "seed_demo", "shell", "createsuperuser"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.preflight import run_or_exit

    def execute() -> None:
        from django.core.management import execute_from_command_line

        if len(sys.argv) > 1 and sys.argv[1] in PREFLIGHT_COMMANDS and os.environ.get("RUN_MAIN") != "true":
            import django

            django.setup()
            from config.preflight import check_services

            check_services()
        execute_from_command_line(sys.argv)

    run_or_exit(execute)


if __name__ == "__main__":
    main()
