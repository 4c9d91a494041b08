"""Demo texting data: consent for some demo patients, a few patient texts in the inbox, an
opt-out, an unknown sender and a queued prep reminder. Safe to run again (MessageSids and
dedupe keys are fixed, so nothing doubles)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from medsync.models import Membership, Organization, Pharmacy
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from messaging import services
from messaging.models import SmsConsent
from patients.models import Patient, PatientStatus

INBOUND = [
    # (patient index, body)
    (0, "Can I pick up Friday instead of Thursday?"),
    (1, "C"),
    (2, "HELP"),
    (3, "I am in the hospital this week, please hold everything"),
    (9, "STOP"),
]
UNKNOWN_SENDER = {"maple": "+16085559876", "birch": "+18285559876"}


class Command(BaseCommand):
    help = "Add demo consent, texts and an inbox to the demo organizations (idempotent)."

    def handle(self, *args, **options):
        for organization in Organization.objects.filter(slug__in=["maple", "birch"]):
            with tenant_scope(organization):
                added = self._seed(organization)
            self.stdout.write(f"  {organization.name}: {added} demo texts added")

    def _seed(self, organization) -> int:
        pharmacies = list(Pharmacy.objects.exclude(sms_number="").order_by("name"))
        if not pharmacies:
            return 0
        sms_numbers = {p.sms_number for p in Pharmacy.objects.all()}
        patients = [
            p
            for p in Patient.objects.filter(status=PatientStatus.ACTIVE)
            .select_related("home_pharmacy")
            .order_by("mrn")[:20]
            if p.phone and p.phone not in sms_numbers
        ][:12]
        if not patients:
            return 0
        pharmacist = Membership.objects.filter(role=Role.PHARMACIST).select_related("user").first()
        actor = pharmacist.user if pharmacist else None
        for index, patient in enumerate(patients[:10]):
            if not SmsConsent.objects.filter(patient=patient, granted=True).exists():
                services.sms_consent_grant(
                    patient=patient,
                    method="written" if index % 2 else "verbal",
                    actor=actor,
                    note="Demo: agreed at enrollment",
                )
        added = 0
        for index, body in INBOUND:
            if index >= len(patients):
                continue
            patient = patients[index]
            pharmacy = patient.home_pharmacy if patient.home_pharmacy in pharmacies else None
            pharmacy = pharmacy or pharmacies[0]
            if services.inbound_message_receive(
                pharmacy=pharmacy,
                from_number=patient.phone,
                to_number=pharmacy.sms_number,
                body=body,
                provider_sid=f"SMdemo{organization.slug}{index:026d}",
            ):
                added += 1
        if services.inbound_message_receive(
            pharmacy=pharmacies[0],
            from_number=UNKNOWN_SENDER.get(organization.slug, "+16085559876"),
            to_number=pharmacies[0].sms_number,
            body="Hi, is this the pharmacy? My mother's refills are due soon.",
            provider_sid=f"SMdemo{organization.slug}unknown{0:019d}",
        ):
            added += 1
        if len(patients) > 4:
            patient = patients[4]
            anchor = timezone.localdate() + timedelta(days=7)
            services.automated_message_request(
                patient=patient,
                kind="prep_reminder",
                dedupe_key=f"demo:{patient.mrn}:prep_reminder",
                context={"anchor_date": anchor},
            )
        return added
