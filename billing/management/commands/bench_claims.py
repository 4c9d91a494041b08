"""Claims per second through the simulator gateway, beside a floor.

    python manage.py bench_claims [--items 10000] [--batch 1000]

Builds a throwaway organization with one pharmacy, N patients (Part D, $10 copay), N
prescriptions and their prices (tests/factories), then bills one fill of each through
billing.services.claims_submit_many in batches (adjudication, D.0 records, status history,
audit). The floor is a plain bulk INSERT of the same claim rows. The rows stay in a separate
"Bench claims" organization (never a real tenant).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

from django.core.management.base import BaseCommand
from django.db import transaction

from billing.claim_models import Claim, ClaimStatus
from billing.services import ClaimSubject, claims_submit_many
from medsync.tenancy import tenant_scope


class Command(BaseCommand):
    help = "Measure claims/s through the simulator (goal: 500/s) beside a plain INSERT."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=10_000)
        parser.add_argument("--batch", type=int, default=1_000)

    def handle(self, *args, **options):
        from tests.factories import (
            CoverageFactory,
            DrugFactory,
            OrganizationFactory,
            PatientFactory,
            PharmacyFactory,
            PlanRuleFactory,
            PrescriptionFactory,
            PriceListEntryFactory,
            bulk_build_create,
        )

        n, batch = options["items"], options["batch"]
        org = OrganizationFactory(name="Bench claims", slug=f"bench-claims-{uuid.uuid4().hex[:8]}")
        with tenant_scope(org):
            pharmacy = PharmacyFactory(
                organization=org, ncpdp_id=f"9{uuid.uuid4().int % 10**6:06d}"
            )
            drug = DrugFactory()
            PriceListEntryFactory(pharmacy=pharmacy, ndc=drug.ndc)
            PlanRuleFactory(organization=org)
            patients = bulk_build_create(PatientFactory, [{"organization": org} for _ in range(n)])
            coverages = bulk_build_create(
                CoverageFactory, [{"patient": p, "organization": org} for p in patients]
            )
            rxs = bulk_build_create(
                PrescriptionFactory,
                [
                    {"patient": p, "organization": org, "pharmacy": pharmacy, "drug": drug,
                     "coverage": c}
                    for p, c in zip(patients, coverages, strict=True)
                ],
            )  # fmt: skip
            subjects = [
                ClaimSubject(
                    pharmacy=pharmacy, patient=rx.patient, prescription=rx,
                    coverage=rx.coverage, cycle_item_id=i + 1,
                    date_of_service=dt.date(2026, 11, 2), quantity=rx.quantity_per_fill,
                    days_supply=rx.days_supply, fill_number=1,
                )
                for i, rx in enumerate(rxs)
            ]  # fmt: skip
            start = time.perf_counter()
            made = []
            for i in range(0, n, batch):
                made += claims_submit_many(subjects=subjects[i : i + batch], actor=None)
            elapsed = time.perf_counter() - start
            paid = sum(1 for c in made if c.status == ClaimStatus.PAID)
            # Floor: the same rows, inserted plainly (no reads, no adjudication, no audit).
            copies = []
            for claim in made:
                claim.pk, claim.id = None, None
                claim.cycle_item_id += 10 * n
                claim.public_id = None
                copies.append(claim)

            for claim in copies:
                claim.public_id = uuid.uuid4()
            start = time.perf_counter()
            with transaction.atomic():
                for i in range(0, n, batch):
                    Claim.objects.bulk_create(copies[i : i + batch])
            floor = time.perf_counter() - start
        self.stdout.write(
            f"claims: {len(made)} ({paid} paid) in {elapsed:.2f}s = "
            f"{len(made) / elapsed:.0f} claims/s (goal 500/s); floor, plain INSERT of the "
            f"same rows: {floor:.2f}s = {n / floor:.0f} rows/s"
        )
