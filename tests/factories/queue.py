"""A pharmacy's fill queue of any size, built in bulk (the queue tests and `bench_queue`).

`build_fill_queue(pharmacy, items=500, today=...)` writes patients with coverage and synced
prescriptions, one enrollment and one filling cycle each (anchors spread over the next three
days), and one planned fill per prescription in today's queue: `items` fills in all, a few
INSERTs whatever the size. Call it inside the organization's tenant scope.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from scheduling.models import (
    ContactChannel,
    CycleItem,
    CycleStatus,
    EnrollmentStatus,
    FillKind,
    ItemState,
    SyncCycle,
    SyncEnrollment,
)
from tests.factories.bulk import bulk_build_create
from tests.factories.records import (
    CoverageFactory,
    PatientFactory,
    SyncDrugFactory,
    SyncPrescriptionFactory,
)


def build_fill_queue(
    pharmacy, *, items: int, today: dt.date, prefix: str = "Q", per_patient: int = 5
) -> list[CycleItem]:
    """`items` planned fills in `pharmacy`'s queue today (per_patient to a patient)."""
    organization = pharmacy.organization
    drugs = [
        SyncDrugFactory(ndc=f"7777{i:07d}", name=f"Queuepril {i}", generic_name=f"queuepril {i}")
        for i in range(per_patient)
    ]
    patients_n = -(-items // per_patient)
    patients = bulk_build_create(
        PatientFactory,
        (
            {
                "organization": organization,
                "mrn": f"{prefix}{n:06d}",
                "last_name": f"Queue {n:04d}",
                "home_pharmacy": pharmacy,
            }
            for n in range(patients_n)
        ),
    )
    coverages = bulk_build_create(CoverageFactory, ({"patient": p} for p in patients))
    wanted = [
        (patient, coverage, drugs[k])
        for patient, coverage in zip(patients, coverages, strict=True)
        for k in range(per_patient)
    ][:items]
    prescriptions = bulk_build_create(
        SyncPrescriptionFactory,
        (
            {
                "patient": patient,
                "pharmacy": pharmacy,
                "drug": drug,
                "coverage": coverage,
                "rx_number": f"{prefix}{n:07d}",
                "written_date": today - dt.timedelta(days=60),
                "expiration_date": today + dt.timedelta(days=300),
            }
            for n, (patient, coverage, drug) in enumerate(wanted)
        ),
    )
    now = timezone.now()
    enrollments = SyncEnrollment.objects.bulk_create(
        [
            SyncEnrollment(
                organization=organization,
                patient=p,
                pharmacy=pharmacy,
                status=EnrollmentStatus.ENROLLED,
                consent_given_by="The patient",
                consent_method="in_person",
                consent_at=now,
                cycle_days=30,
                anchor_date=today + dt.timedelta(days=1 + n % 3),
                contact_channel=ContactChannel.PHONE,
            )
            for n, p in enumerate(patients)
        ]
    )
    cycles = SyncCycle.objects.bulk_create(
        [
            SyncCycle(
                organization=organization,
                enrollment=e,
                patient_id=e.patient_id,
                pharmacy=pharmacy,
                anchor_date=e.anchor_date,
                prep_due_on=today - dt.timedelta(days=4),
                prefill_due_on=today,
                status=CycleStatus.FILLING,
                filling_at=now,
            )
            for e in enrollments
        ]
    )
    cycle_of = {c.patient_id: c for c in cycles}
    return CycleItem.objects.bulk_create(
        [
            CycleItem(
                organization=organization,
                cycle=cycle_of[rx.patient_id],
                prescription=rx,
                fill_date=cycle_of[rx.patient_id].anchor_date,
                queue_from=today,
                kind=FillKind.FULL,
                quantity=Decimal("30"),
                days_supply=30,
                patient_pay=Decimal("10.00"),
                state=ItemState.PLANNED,
            )
            for rx in prescriptions
        ]
    )
