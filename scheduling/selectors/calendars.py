"""Each pharmacy's sync settings and calendar: timing, local today, the load of anchors."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import Count

from medsync.models import Pharmacy
from patients.models import (
    Patient,
)
from scheduling.dates import CycleTiming, local_today, next_anchor_on_or_after
from scheduling.models import (
    EnrollmentStatus,
    SyncEnrollment,
    SyncSettings,
)


def sync_settings_for(pharmacy: Pharmacy) -> SyncSettings:
    """The pharmacy's settings row, or an unsaved one holding the defaults."""
    return SyncSettings.objects.filter(pharmacy=pharmacy).first() or SyncSettings(
        pharmacy=pharmacy, organization_id=pharmacy.organization_id
    )


def timing_of(settings_row: SyncSettings) -> CycleTiming:
    return CycleTiming(
        prep_days=settings_row.prep_days,
        prefill_days=settings_row.prefill_days,
        closed_weekdays=tuple(settings_row.closed_weekdays or ()),
    )


def pharmacies_with_settings() -> list[tuple[Pharmacy, SyncSettings]]:
    """Every active pharmacy of the tenant with its sync settings (two queries)."""
    pharmacies = list(Pharmacy.objects.filter(is_active=True).order_by("pk"))
    stored = {s.pharmacy_id: s for s in SyncSettings.objects.filter(pharmacy__in=pharmacies)}
    return [
        (
            p,
            stored.get(p.pk) or SyncSettings(pharmacy=p, organization_id=p.organization_id),
        )
        for p in pharmacies
    ]


def pharmacy_today(pharmacy: Pharmacy, now: dt.datetime | None = None) -> dt.date:
    return local_today(pharmacy.time_zone, now)


def anchor_load(
    pharmacy: Pharmacy, *, start: dt.date, days: int, exclude_patient: Patient | None = None
) -> dict[dt.date, int]:
    """Patients already due on each date of [start, start + days): projects every enrolled
    patient's anchor schedule (one grouped query, however many patients)."""
    groups = SyncEnrollment.objects.filter(
        pharmacy=pharmacy, status=EnrollmentStatus.ENROLLED, anchor_date__isnull=False
    )
    if exclude_patient is not None:
        groups = groups.exclude(patient=exclude_patient)
    load: Counter[dt.date] = Counter()
    end = start + dt.timedelta(days=days)
    for row in groups.values("anchor_date", "cycle_days").annotate(n=Count("id")):
        day = next_anchor_on_or_after(row["anchor_date"], row["cycle_days"], start)
        while day < end:
            load[day] += row["n"]
            day += dt.timedelta(days=row["cycle_days"])
    return dict(load)
