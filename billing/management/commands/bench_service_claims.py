"""Time the service-claim file writers on a synthetic batch (no database).

    python manage.py bench_service_claims --claims 1000

Builds `--claims` claims (a 40-minute CMR: 99605 + 99607 x2, two diagnoses), then times the
837P writer, its structural check and the CMS-1500 PDF (one page per claim).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from django.core.management.base import BaseCommand

from billing.cms1500 import render_cms1500
from billing.x12.p837 import Address, BillingProvider, Claim, Interchange, Line, write_837p
from billing.x12.validate import validate_837p


def synthetic(count: int) -> Interchange:
    day = dt.date(2026, 11, 30)
    claims = tuple(
        Claim(
            claim_id=f"C{n:08d}",
            patient_last=f"Example{n}",
            patient_first="Pat",
            birth_date=dt.date(1950, 5, 17),
            sex="F",
            member_id=f"M{n:08d}",
            patient_address=Address("1 Oak Ln", "Madison", "WI", "53704"),
            payer_name="Acme Medical",
            payer_id="ACME1",
            diagnosis_codes=("E119", "I10"),
            lines=(
                Line("99605", Decimal("75.00"), 1, day, (), (1, 2)),
                Line("99607", Decimal("100.00"), 2, day, (), (1, 2)),
            ),
            rendering_last="Lee",
            rendering_first="Ann",
            rendering_npi="1245319599",
        )
        for n in range(count)
    )
    return Interchange(
        control_number=1,
        sender_id="1234567893",
        receiver_id="ACME1",
        receiver_name="Acme Medical",
        created_at=dt.datetime(2026, 12, 2, 9, 30),
        provider=BillingProvider(
            name="Bench Pharmacy",
            npi="1234567893",
            tax_id="391234567",
            address=Address("1 Main St", "Madison", "WI", "53703"),
        ),
        claims=claims,
    )


class Command(BaseCommand):
    help = "Time the 837P writer, its check and the CMS-1500 PDF on a synthetic batch."

    def add_arguments(self, parser):
        parser.add_argument("--claims", type=int, default=1000)

    def handle(self, *args, claims: int, **options):
        batch = synthetic(max(1, min(claims, 100_000)))
        started = time.perf_counter()
        text = write_837p(batch)
        wrote = time.perf_counter() - started
        started = time.perf_counter()
        problems = validate_837p(text)
        checked = time.perf_counter() - started
        started = time.perf_counter()
        pdf = render_cms1500(batch)
        printed = time.perf_counter() - started
        self.stdout.write(
            f"{len(batch.claims)} claims: 837P written in {wrote:.3f} s "
            f"({len(text.splitlines())} segments), checked in {checked:.3f} s "
            f"({len(problems)} problems); CMS-1500 PDF in {printed:.2f} s "
            f"({len(pdf) // 1024} KB)"
        )
