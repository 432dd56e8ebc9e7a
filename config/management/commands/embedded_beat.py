"""``manage.py embedded_beat``: the periodic jobs of config.celery.BEAT_SCHEDULE for the embedded default.

Without Redis there is no Celery worker or beat: tasks run in-process when they are queued. Then nothing
would retry an event the OA refused, remind a late approver or pull the directory on its interval. This
command runs the same schedule in a small loop (each due task in this process, one after another), so
`make run` behaves like a production install, only slower. With REDIS_URL set use `make worker` and
`make beat` instead: this command refuses to run next to a real beat.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from celery.schedules import maybe_schedule
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the periodic jobs of the Celery beat schedule in this process, for the embedded default "
        "(no Redis, no worker). Stops with Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tick", type=float, default=5.0, help="seconds between checks of the schedule (5)")
        parser.add_argument("--once", action="store_true", help="run every job once now, then stop")

    def handle(self, *args, tick: float, once: bool, **options):
        from config.celery import BEAT_SCHEDULE, app

        if not app.conf.task_always_eager:
            raise CommandError("REDIS_URL is set: run `make worker` and `make beat` instead of embedded_beat.")

        app.loader.import_default_modules()  # the apps' tasks modules (what a worker imports at start-up)
        entries = {name: (entry["task"], maybe_schedule(entry["schedule"])) for name, entry in BEAT_SCHEDULE.items()}
        # As Celery beat does: every job runs first one interval (or at the next crontab time) after start-up.
        started: datetime = timezone.now()
        last_run = dict.fromkeys(entries, started)
        self.stdout.write(f"embedded beat: {', '.join(sorted(entries))} (checks every {tick:g} s)")
        while True:
            for name, (task_name, schedule) in entries.items():
                if not once and not schedule.is_due(last_run[name]).is_due:
                    continue
                last_run[name] = timezone.now()
                self._run(name, app.tasks[task_name])
            if once:
                return
            try:
                time.sleep(tick)
            except KeyboardInterrupt:
                return

    def _run(self, name: str, task) -> None:
        started = time.perf_counter()
        try:
            task.apply(throw=True)
        except Exception:  # noqa: BLE001 - one failing job must not stop the others
            log.exception("embedded beat: %s failed", name)
            return
        log.info("embedded beat: %s done in %.0f ms", name, (time.perf_counter() - started) * 1000)
