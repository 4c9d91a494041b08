"""(b) Prep: on anchor minus prep days (pharmacy time) a cycle joins the prep worklist and,
for patients who take texts, a prep reminder is requested from messaging."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from medsync.tenancy import current_organization
from scheduling import sql
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult


def cycles_open_prep(*, now: dt.datetime | None = None, limit: int | None = None) -> SweepResult:
    """Anchor minus prep days, in the pharmacy's time zone: the cycle joins the prep worklist
    and, for patients who take texts, a prep reminder is requested from messaging."""
    now = now or timezone.now()
    limit = limit or runner.batch_size()
    organization_id = current_organization().pk

    def step(pharmacy, _settings, today, result):
        def handle(rows):
            ids = [row.pk for row in rows]
            result.cycles += len(ids)
            reminded = sql.insert_message_requests(
                organization_id=organization_id,
                cycle_ids=ids,
                kind="prep_reminder",
                now=now,
                pharmacy_public_id=str(pharmacy.public_id),
            )
            result.messages += len(reminded)

        runner.claim_batches(
            result,
            lambda: sql.claim_cycles(
                "open_prep",
                organization_id=organization_id,
                pharmacy_id=pharmacy.pk,
                limit=limit,
                today=today,
                now=now,
            ),
            handle,
        )

    total = runner.for_each_pharmacy("prep_opened", now, step)
    runner.hand_over_later(total)
    return total
