"""Fixtures of the API fuzzing: the WSGI app, a seeded Maple and Birch, a token per role."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from medsync.services import api_token_issue
from medsync.tenancy import tenant_scope
from tests.factories import (
    CoverageFactory,
    FillFactory,
    PatientFactory,
    PrescriberFactory,
    SyncPrescriptionFactory,
)

ROLES = ("owner", "pharmacist", "technician")


@dataclass
class KnownIds:
    """Public ids of real rows, by what a path, query or body names (`patient`, ...)."""

    by_kind: dict[str, str] = field(default_factory=dict)

    def pick(self, kind: str, generated) -> object:
        """The real id for three generated values in four (chosen by the value, so runs
        repeat), the generated one otherwise: found, not found and malformed are all tried."""
        real = self.by_kind.get(kind)
        if real is None or zlib.crc32(repr(generated).encode()) % 4 == 0:
            return generated
        return real


@pytest.fixture
def wsgi_app():
    """Django's own WSGI handler, called in-process inside the test's transaction.

    Django's test client does the same: the request signals would otherwise close the
    connection that holds the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_settings(settings):
    settings.MESSAGING_GATEWAY = "console"
    settings.MESSAGING_SENDER_RATE = 0
    settings.MESSAGING_PUBLIC_BASE_URL = ""
    return settings


def _seed_tenant(tenant, *, home, actor, sms_number: str) -> dict[str, str]:
    """A patient of `home` with coverage, two synced prescriptions, fills, an enrollment
    (with its first cycle), a conversation with a text, and a previewable import batch."""
    from messaging import services as messaging
    from patients import services as patients
    from scheduling import services as scheduling

    organization = tenant.organization
    with tenant_scope(organization):
        home.sms_number = sms_number
        home.save(update_fields=["sms_number"])
        patient = PatientFactory(organization=organization, home_pharmacy=home)
        coverage = CoverageFactory(patient=patient)
        prescriber = PrescriberFactory(organization=organization)
        prescriptions = []
        for offset in (5, 12):
            rx = SyncPrescriptionFactory(
                patient=patient, pharmacy=home, coverage=coverage, prescriber=prescriber
            )
            fill = FillFactory(
                prescription=rx, fill_date=dt.date.today() - dt.timedelta(days=30 - offset)
            )
            prescriptions.append(rx)
        enrollment = scheduling.enrollment_enroll(
            patient=patient,
            actor=actor,
            prescriptions=prescriptions,
            anchor_date=dt.date.today() + dt.timedelta(days=10),
            cycle_days=30,
            consent_given_by="The patient",
            consent_method="in_person",
            pharmacy=home,
        )
        cycle = enrollment.cycles.order_by("anchor_date").first()
        messaging.sms_consent_grant(patient=patient, method="verbal", actor=actor)
        conversation = messaging.conversation_get_or_create(
            phone=patient.phone, pharmacy=home, patient=patient
        )
        message = messaging.manual_message_send(
            conversation=conversation,
            body="Your refills are ready.",
            actor=actor,
            outside_window="send",
        )
        batch = patients.import_batch_create(
            files=[
                (
                    "patients.csv",
                    "mrn,first_name,last_name,date_of_birth,phone\n"
                    "F-1,Ada,Fuzz,1950-01-02,608-555-0199\n",
                )
            ],
            source="api",
            actor=actor,
        )
        ids = {
            "pharmacy": home.public_id,
            "patient": patient.public_id,
            "prescription": prescriptions[0].public_id,
            "fill": fill.public_id,
            "coverage": coverage.public_id,
            "prescriber": prescriber.public_id,
            "drug": prescriptions[0].drug.public_id,
            "enrollment": enrollment.public_id,
            "cycle": cycle.public_id if cycle else None,
            "conversation": conversation.public_id,
            "message": message.public_id,
            "import": batch.public_id,
            "user": actor.public_id,
        }
    return {kind: str(value) for kind, value in ids.items() if value is not None}


@pytest.fixture
def seeded(maple, birch, fuzz_settings) -> KnownIds:
    """Maple data at Main St (what the technician may see) and at Elm Ave (what they may not),
    and Birch data (another tenant: always a 404). The fuzzer is pointed at Main St's rows."""
    main_st, elm_ave = maple.pharmacies
    known = _seed_tenant(maple, home=main_st, actor=maple.pharmacist, sms_number="+16085550100")
    with tenant_scope(maple.organization):  # no home pharmacy: `home_pharmacy` reads null
        SyncPrescriptionFactory(
            patient=PatientFactory(organization=maple.organization, home_pharmacy=None),
            pharmacy=main_st,
        )
    _seed_tenant(maple, home=elm_ave, actor=maple.pharmacist, sms_number="+16085550101")
    _seed_tenant(birch, home=birch.pharmacies[0], actor=birch.pharmacist, sms_number="+18285550100")
    return KnownIds(known)


@dataclass
class Caller:
    user: object
    token: str

    def fresh_token(self) -> str:
        """For the call that revokes the token it is made with."""
        return api_token_issue(user=self.user)[1]


@pytest.fixture(params=ROLES)
def caller(request, maple) -> Caller:
    """Maple's owner, pharmacist or technician (limited to Main St) with a bearer token."""
    user = getattr(maple, request.param)
    return Caller(user, api_token_issue(user=user)[1])
