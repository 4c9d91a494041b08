"""Demo sync program: about half of Maple's demo patients enrolled, with cycles in every
state, so the prep worklist, the fill queue and the sync panels are alive on first start.

It replays a month of the program through the real services and sweeps (each given the
moment it happens), so every row is one MedSync itself would have written. Idempotent: a
patient with any enrollment is left as it is; with none left to enroll it does nothing.
Needs the demo patients (seed_demo_patients); without them it does nothing.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand
from django.db import transaction

from medsync.models import Membership, Organization
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from patients.models import Patient, PrescriptionStatus, SyncDecision
from patients.services import record_save
from scheduling import selectors, services, sweeps
from scheduling.dates import local_today
from scheduling.exceptions import SchedulingError
from scheduling.models import CycleItem, EventChannel, ItemState, SyncCycle, SyncEnrollment

# (cohort, patients): what the program looks like today for each group.
COHORTS = [
    ("completed", 2),  # last month's cycle picked up and closed; this month's picked up today
    ("missed", 2),  # anchor two days ago, bag ready, never came
    ("partly", 2),  # anchor today, took some of the bag
    ("ready", 2),  # anchor tomorrow, everything verified
    ("filling", 3),  # pre-fill day came: in the fill queue, some filled, one flagged
    ("contacted", 3),  # prep call done: confirmed, changes reported, unreachable
    ("prep_due", 2),  # prep call due now
    ("scheduled", 4),  # anchors later this month
]


class Command(BaseCommand):
    help = "Enroll about half of Maple's demo patients, with cycles in every state."

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug="maple").first()
        if organization is None:
            return
        with tenant_scope(organization):
            enrolled = self._seed(organization)
        if enrolled:
            self.stdout.write(f"  {organization.name}: {enrolled} patients enrolled in sync")

    def _seed(self, organization) -> int:
        if SyncEnrollment.objects.filter(patient__mrn__startswith="DEMO-MAPLE-").exists():
            return 0  # seeded before: leave the program as it has evolved
        candidates = self._candidates()
        if not candidates:
            return 0
        pharmacist = Membership.objects.filter(role=Role.PHARMACIST).select_related("user").first()
        actor = pharmacist.user if pharmacist else None
        technician = Membership.objects.filter(role=Role.TECHNICIAN).select_related("user").first()
        tech = technician.user if technician else actor
        zone = candidates[0].home_pharmacy.time_zone if candidates[0].home_pharmacy else "UTC"
        today = local_today(zone)

        def at(offset_days: int, hour: int = 9) -> dt.datetime:
            day = today + dt.timedelta(days=offset_days)
            return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(zone))

        # The demo prescriptions were written about a year ago: most are out of refills or
        # about to expire. Renewal season: the prescribers renewed all but two patients'
        # (one in the fill queue, one on the prep worklist: they show the renewal flags).
        with transaction.atomic():
            for index, patient in enumerate(candidates):
                if index not in (8, 14):
                    self._renew(patient, actor=actor, today=today)

        cohorts: dict[str, list[Patient]] = {}
        remaining = list(candidates)
        for name, size in COHORTS:
            cohorts[name], remaining = remaining[:size], remaining[size:]
        with transaction.atomic():
            return self._replay(cohorts, at, actor, tech)

    @staticmethod
    def _renew(patient, *, actor, today) -> None:
        for rx in patient.prescriptions.filter(
            status=PrescriptionStatus.ACTIVE, sync_decision=SyncDecision.SYNCED
        ):
            if rx.refills_remaining >= 3 and rx.expiration_date > today + dt.timedelta(days=90):
                continue
            written = today - dt.timedelta(days=45)
            record_save(
                instance=rx,
                actor=actor,
                fields={
                    "written_date": written,
                    "expiration_date": written + dt.timedelta(days=365),
                    "refills_authorized": 11,
                    "refills_remaining": 11,
                },
            )

    def _candidates(self) -> list[Patient]:
        """Maple demo patients with two or more synced prescriptions and no enrollment."""
        patients = []
        for patient in (
            Patient.objects.filter(mrn__startswith="DEMO-MAPLE-", status="active")
            .select_related("home_pharmacy")
            .order_by("mrn")
        ):
            if SyncEnrollment.objects.filter(patient=patient).exists():
                continue
            synced = patient.prescriptions.filter(
                status=PrescriptionStatus.ACTIVE, sync_decision=SyncDecision.SYNCED
            ).count()
            if synced >= 2:
                patients.append(patient)
        return patients[: sum(size for _, size in COHORTS)]

    def _enroll(self, patient, *, anchor_offset, at, actor, as_of_offset=0, **extra):
        prescriptions = list(
            patient.prescriptions.filter(
                status=PrescriptionStatus.ACTIVE, sync_decision=SyncDecision.SYNCED
            )
        )
        now = at(as_of_offset)
        anchor = (now + dt.timedelta(days=anchor_offset - as_of_offset)).date()
        try:
            services.enrollment_enroll(
                patient=patient,
                actor=actor,
                prescriptions=prescriptions,
                anchor_date=anchor,
                cycle_days=30,
                consent_given_by=patient.full_name,
                consent_method="in_person",
                contact_channel=extra.pop("contact_channel", "sms"),
                now=now,
                **extra,
            )
        except SchedulingError as exc:
            self.stderr.write(f"  skipped {patient.mrn}: {exc.message}")
            return False
        return True

    @staticmethod
    def _cycle(patient, anchor_offset, at) -> SyncCycle | None:
        return SyncCycle.objects.filter(
            patient=patient, anchor_date=at(anchor_offset).date()
        ).first()

    @staticmethod
    def _fill_and_verify(cycle, *, actor, now, verify=True, limit=None) -> None:
        items = CycleItem.objects.filter(cycle=cycle, state=ItemState.PLANNED).order_by("pk")
        for item in list(items)[:limit]:
            try:
                services.cycle_item_advance(item=item, actor=actor, action="fill", now=now)
                if verify:
                    services.cycle_item_advance(item=item, actor=actor, action="verify", now=now)
            except SchedulingError:
                services.cycle_item_advance(
                    item=item, actor=actor, action="flag", flag_reason="renewal_needed", now=now
                )

    def _sweep_all(self, now) -> None:
        for sweep in (
            sweeps.cycles_ensure_upcoming,
            sweeps.cycles_open_prep,
            sweeps.cycles_open_prefill,
            sweeps.cycles_check_pickups,
        ):
            sweep(now=now)

    def _replay(self, cohorts, at, actor, tech) -> int:
        enrolled = 0
        # A month ago: the first group enrolls, is filled, picks up on its anchor.
        for patient in cohorts["completed"]:
            enrolled += self._enroll(
                patient, anchor_offset=-30, as_of_offset=-40, at=at, actor=actor
            )
        self._sweep_all(at(-33))
        for patient in cohorts["completed"]:
            cycle = self._cycle(patient, -30, at)
            if cycle is not None:
                self._fill_and_verify(cycle, actor=actor, now=at(-32))
                self._pickup(cycle, tech, at(-30, 15))
        # Twelve days ago: the next group enrolls for an anchor two days ago.
        for patient in cohorts["missed"]:
            enrolled += self._enroll(
                patient, anchor_offset=-2, as_of_offset=-12, at=at, actor=actor
            )
        self._sweep_all(at(-5))
        for patient in cohorts["missed"]:
            cycle = self._cycle(patient, -2, at)
            if cycle is not None:
                self._fill_and_verify(cycle, actor=actor, now=at(-4))
        # This week and today.
        offsets = {"partly": 0, "ready": 1, "filling": 2, "contacted": 5, "prep_due": 6}
        for name, offset in offsets.items():
            for index, patient in enumerate(cohorts[name]):
                enrolled += self._enroll(
                    patient, anchor_offset=offset + (index % 2), as_of_offset=-9, at=at, actor=actor
                )
        for index, patient in enumerate(cohorts["scheduled"]):
            options = selectors.anchor_options(
                patient=patient,
                prescriptions=list(
                    patient.prescriptions.filter(
                        status=PrescriptionStatus.ACTIVE, sync_decision=SyncDecision.SYNCED
                    )
                ),
                cycle_days=30,
                limit=1,
                now=at(0),
            )
            anchor_offset = 12 + 3 * index
            if options.proposals:
                best = options.proposals[0].anchor_date
                anchor_offset = max(8, (best - at(0).date()).days)
            enrolled += self._enroll(
                patient,
                anchor_offset=anchor_offset,
                at=at,
                actor=actor,
                preferred_weekday=index % 5 if index % 2 else None,
            )
        self._sweep_all(at(0, 8))
        for patient in cohorts["completed"]:
            cycle = self._cycle(patient, 0, at)
            if cycle is not None:
                self._fill_and_verify(cycle, actor=actor, now=at(0))
                self._pickup(cycle, tech, at(0, 11))
        for patient in cohorts["partly"]:
            cycle = SyncCycle.objects.filter(patient=patient).order_by("anchor_date").first()
            if cycle is not None:
                self._fill_and_verify(cycle, actor=actor, now=at(-2))
                first = CycleItem.objects.filter(cycle=cycle, state=ItemState.READY).first()
                if first is not None:
                    services.cycle_pickup_record(
                        cycle=cycle, actor=tech, items=[first], now=at(0, 10)
                    )
        for patient in cohorts["ready"]:
            cycle = SyncCycle.objects.filter(patient=patient).order_by("anchor_date").first()
            if cycle is not None:
                self._fill_and_verify(cycle, actor=actor, now=at(0, 8))
        for index, patient in enumerate(cohorts["filling"]):
            cycle = SyncCycle.objects.filter(patient=patient).order_by("anchor_date").first()
            if cycle is not None and index:
                self._fill_and_verify(cycle, actor=tech, now=at(0, 8), verify=False, limit=2)
        outcomes = [
            {"outcome": "confirmed", "answers": False},
            {"outcome": "changes_reported", "answers": True},
            {"outcome": "unreachable", "answers": None},
        ]
        for patient, spec in zip(cohorts["contacted"], outcomes, strict=False):
            cycle = SyncCycle.objects.filter(patient=patient).order_by("anchor_date").first()
            if cycle is None:
                continue
            answers = {}
            if spec["answers"] is not None:
                answers = dict.fromkeys(
                    ("new_medications", "stopped_medications", "dose_changes", "side_effects"),
                    False,
                )
                answers["hospital_stay"] = spec["answers"]
            services.prep_contact_record(
                cycle=cycle,
                actor=actor,
                channel=EventChannel.PHONE,
                outcome=spec["outcome"],
                notes="Overnight in hospital for a fall; home now." if spec["answers"] else "",
                now=at(0, 8),
                **answers,
            )
        sweeps.cycles_check_pickups(now=at(0, 8))
        return enrolled

    @staticmethod
    def _pickup(cycle, actor, now) -> None:
        if CycleItem.objects.filter(cycle=cycle, state=ItemState.READY).exists():
            services.cycle_pickup_record(cycle=cycle, actor=actor, now=now)
