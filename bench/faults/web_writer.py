"""Scenario (d): a "web process" that writes claims through the services and dies between commit and enqueue.

Run by ``python -m bench.faults`` as a subprocess. It creates and submits claims (as the views do, through
``reimbursement.services``) until ``--claims`` are written; after its ``--die-after``-th commit it SIGKILLs
itself inside the on-commit callback that would hand the events to the broker: the claim and its outbox
rows are committed, the enqueue never happens. Only the beat sweeper can find those events.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, required=True)
    parser.add_argument("--die-after", type=int, required=True, help="SIGKILL itself at this commit's enqueue")
    parser.add_argument("--people", default="zhangwei,lina,wuhao,heming,linxue,songjia")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from oa_bridge.services import outbox
    from org.models import Employee
    from tests.reimbursement.factories import make_claim, submit

    real_enqueue = outbox.enqueue
    commits = 0

    def enqueue_or_die(event_ids: list[str]) -> None:
        nonlocal commits
        commits += 1
        if commits >= args.die_after:
            os.kill(os.getpid(), signal.SIGKILL)  # committed, not enqueued: the web process dies here
        real_enqueue(event_ids)

    outbox.enqueue = enqueue_or_die  # the on-commit callback looks the name up when it runs
    people = list(Employee.objects.select_related("user").filter(user__username__in=args.people.split(",")))
    for n in range(args.claims):
        submit(make_claim(people[n % len(people)]))


if __name__ == "__main__":
    main()
