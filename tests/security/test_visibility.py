"""Issue 14, problem 1: one pharmacy-visibility policy for patient data.

A member limited to Maple Main St (the demo technician, and a limited pharmacist made here
so every route is reachable) sees Main St's patients only: every route that takes a patient,
prescription, fill, coverage, enrollment, cycle, fill or conversation id is a 404 for Elm Ave's
and works for Main St's, and every list, search, report and export leaves Elm Ave out.

The walker enumerates the URL resolver: a new route with an id in it fails
`test_every_route_with_an_id_is_known` until it is added to ROUTES (patient data) or to
OTHER_ROUTES (with the reason it does not show a patient).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from billing.services import ClaimSubject, claim_submit
from medsync.models import MembershipPharmacy
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from messaging import services as messaging_services
from messaging.models import Message
from patients import selectors as patient_selectors
from patients.models import Patient
from patients.visibility import patient_is_visible, visible_patients
from scheduling import sweeps
from scheduling.models import SyncCycle
from tests.factories import (
    AppointmentFactory,
    FillFactory,
    MembershipFactory,
    PatientFactory,
    PrescriptionFactory,
    PriceListEntryFactory,
    SyncEnrollmentFactory,
    UserFactory,
    billing_setup,
)
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # Monday morning in Madison
PREP_DAY = dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC)

# name -> (kind of id, method). Every route that takes the id of something of a patient.
ROUTES: dict[str, tuple[str, str]] = {
    # pages
    "patient-detail": ("patient", "get"),
    "sync-enroll": ("patient", "get"),
    "sync-patient": ("patient", "get"),
    "sync-patient-panel": ("patient", "get"),
    "messaging-patient": ("patient", "get"),
    "messaging-conversation": ("conversation", "get"),
    "patient-accept-suggestions": ("patient", "post"),
    "prescription-decide": ("prescription", "post"),
    "fill-queue-item-action": ("item", "post"),
    "sync-prep-contact": ("cycle", "post"),
    "sync-cycle-pickup": ("cycle", "post"),
    "sync-cycle-return": ("cycle", "post"),
    "sync-enrollment-action": ("enrollment", "post"),
    "sync-invite": ("patient", "post"),
    "sync-replan-request": ("patient", "post"),
    "sync-renewals": ("cycle", "get"),
    "sync-renewal-export": ("cycle", "get"),
    "messaging-reply": ("conversation", "post"),
    "messaging-assign": ("conversation", "post"),
    "messaging-close": ("conversation", "post"),
    "messaging-simulate": ("conversation", "post"),
    "messaging-patient-consent": ("patient", "post"),
    "clinical-panel": ("patient", "get"),
    "clinical-add": ("patient", "post"),
    "agreement-counter": ("patient", "get"),
    "agreement-link-send": ("patient", "post"),
    "agreement-pdf": ("agreement", "get"),
    # API
    "api-patient-detail": ("patient", "get"),
    "api-prescription-detail": ("prescription", "get"),
    "api-fill-detail": ("fill", "get"),
    "api-coverage-detail": ("coverage", "get"),
    "api-patient-anchor-options": ("patient", "get"),
    "api-patient-adherence": ("patient", "get"),
    "sync-enrollment-detail": ("enrollment", "get"),
    "sync-cycle-detail": ("cycle", "get"),
    "message-detail": ("message", "get"),
    "conversation-detail": ("conversation", "get"),
    "api-patient-sync-plan": ("patient", "post"),
    "sync-enrollment-pause": ("enrollment", "post"),
    "sync-enrollment-resume": ("enrollment", "post"),
    "sync-enrollment-disenroll": ("enrollment", "post"),
    "conversation-assign": ("conversation", "post"),
    "conversation-close": ("conversation", "post"),
    "conversation-read": ("conversation", "post"),
    "conversation-reopen": ("conversation", "post"),
    "conversation-reply": ("conversation", "post"),
    # claims (issue 11)
    "claim-detail": ("claim", "get"),
    "claim-resubmit": ("claim", "post"),
    "claim-rebill": ("claim", "post"),
    "claim-reverse": ("claim", "post"),
    "api-claim-detail": ("claim", "get"),
    "api-claim-ncpdp": ("claim", "get"),
    "api-claim-submit": ("claim", "post"),
    "api-claim-rebill": ("claim", "post"),
    "api-claim-reverse": ("claim", "post"),
    "api-condition-detail": ("condition", "get"),
    "api-allergy-detail": ("allergy", "get"),
    "api-immunization-detail": ("immunization", "get"),
    "api-inpatient-stay-detail": ("stay", "get"),
    "api-assessment-response-detail": ("response", "get"),
    "api-vaccines-due": ("patient", "get"),
    "api-patient-fhir": ("patient", "get"),
    # appointments and service offers (scheduling)
    "appointment-book": ("patient", "get"),
    "appointment-document-page": ("appointment", "get"),
    "appointment-set-status": ("appointment", "post"),
    "services-due": ("patient", "get"),
    "service-offer-answer": ("patient", "post"),
    "appointment-detail": ("appointment", "get"),
    "appointment-document": ("appointment", "post"),
    "appointment-status": ("appointment", "post"),
    "service-offer-detail": ("offer", "get"),
    "reports-inactive-disenroll": ("inactive", "post"),
    # documented services, their claim lines and exports (billing)
    "clinical-service": ("service", "get"),
    "clinical-service-summary": ("service", "get"),
    "clinical-service-detail": ("service", "get"),
    "service-claim-line-status": ("line", "post"),
    "claim-line-detail": ("line", "get"),
    "claim-line-status": ("line", "post"),
    "service-claim-export-download": ("export", "get"),
    "claim-export-detail": ("export", "get"),
    "claim-export-file": ("export", "get"),
}
# Routes with an id that is not a patient's record, and why.
OTHER_ROUTES = {
    "import-detail": "an import batch (pharmacists' upload; whole-organization files)",
    "import-confirm": "an import batch",
    "api-import-detail": "an import batch",
    "api-import-confirm": "an import batch",
    "pharmacy-detail": "a pharmacy (limited by pharmacies_visible_to)",
    "api-pharmacy-detail": "a pharmacy (limited by pharmacies_visible_to)",
    "team-member": "a membership (owners only)",
    "team-member-mfa-reset": "a membership's second factor (owners only)",
    "api-prescriber-detail": "a prescriber (organization directory, no patient data)",
    "api-drug-detail": "the shared drug catalog",
    "sync-replan-decide": "a re-plan proposal: pharmacy-bound (enrollment's pharmacy)",
    "sync-task-resolve": "a follow-up task: pharmacy-bound (cycle's pharmacy)",
    "messaging-template-edit": "a message template (kind, language)",
    "messaging-template-preview": "a message template (kind, language)",
    "message-template-reset": "a message template (kind, language)",
    "account-token-revoke": "the user's own API token",
    "account-session-end": "the user's own session",
    "password_reset_confirm": "a password reset link",
    "invitation": "a team invitation link",
    "assessment-edit": "an assessment template (organization-wide questions, no patient data)",
    "assessment-settings": "an assessment template",
    "api-assessment-detail": "an assessment template",
    "api-assessment-copy": "an assessment template",
    "agreement-public": "a one-time signing link (the token is the key; no login)",
    "assessment-take": "a patient and an assessment template: two ids, walked in "
    "tests/patients/test_clinical_pages.py (a limited pharmacist gets 404 for Elm Ave)",
    "pharmacy-settings": "a pharmacy's settings (owners only, limited by pharmacies_visible_to)",
    "pharmacy-test-text": "a pharmacy's test text (owners only, limited by pharmacies_visible_to)",
    "api-pharmacy-sync-settings": "a pharmacy's sync timing (owners only, limited by "
    "pharmacies_visible_to; tests/scheduling/test_api_sync_settings.py: another org's is a 404)",
    "webhook-disable": "a webhook subscription (owners only; organization-wide)",
    "webhook-inbound": "an inbound endpoint: a signed server-to-server push, no session",
    "sync-renewal-pdf": "a prescriber of a cycle: the cycle is found as sync-renewals finds it",
    "sync-renewal-status": "a request of a cycle: the cycle is found as sync-renewals finds it",
    "pqa-patients": "a PQA measure name, not an id: its patient list is scoped like the PQA "
    "report (reports.scope, limit_to_visible_pharmacies)",
    "reports-today-list": "a today-list key, not an id: its rows are scoped like the today page "
    "(reports.scope, limit_to_visible_pharmacies)",
}
SLUGS = {"action": "flag", "decision": "accept", "status": "done", "fmt": "csv"}
PAGE_SLUGS = {
    "sync-enrollment-action": {"action": "pause"},
    "clinical-add": {"kind": "condition"},
    "agreement-counter": {"kind": "cmr_consent"},
    "agreement-link-send": {"kind": "cmr_consent"},
}


def _routes_with_ids():
    """(name, pattern) of every route that takes a parameter, admin aside (platform staff)."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield p.name, prefix + str(p.pattern), p.pattern.regex.groupindex

    for name, route, groups in walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue
        if groups or "<" in route:
            yield name, route


@dataclass
class Side:
    patient: Patient
    ids: dict
    candidate: Patient


def _side(tenant, pharmacy, *, last_name: str) -> Side:
    """An enrolled patient of `pharmacy` with a cycle on the prep list, a conversation with a
    text, and a not-enrolled candidate with two chronic prescriptions."""
    synced = make_patient(
        pharmacy,
        due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)],
        last_name=last_name,
        first_name="Pat",
    )
    candidate = make_patient(
        pharmacy,
        due_dates=[dt.date(2026, 3, 20), dt.date(2026, 3, 25)],
        last_name=f"{last_name}cand",
        first_name="Cy",
    )
    enrollment = enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    with tenant_scope(tenant.organization):
        patient = synced.patient
        message = messaging_services.inbound_message_receive(
            pharmacy=pharmacy,
            from_number=patient.phone,
            to_number=pharmacy.sms_number,
            body="Is my bag ready?",
            provider_sid=f"SMvis{patient.pk}",
        )
        rx = synced.prescriptions[0]
        clinical = _clinical_rows(patient)
        ids = {
            **clinical,
            "patient": patient.public_id,
            "prescription": rx.public_id,
            "fill": rx.fills.first().public_id,
            "coverage": synced.coverage.public_id,
            "enrollment": enrollment.public_id,
            "conversation": message.conversation.public_id,
            "message": message.public_id,
        }
    return Side(patient, ids, candidate)


def _claim_for(item):
    """A paid or rejected claim of the item (what starting it in the fill queue sends)."""
    rx = item.prescription
    PriceListEntryFactory(pharmacy=rx.pharmacy, ndc=rx.drug.ndc)
    subject = ClaimSubject(
        pharmacy=rx.pharmacy, patient=rx.patient, prescription=rx, coverage=rx.coverage,
        cycle_item_id=item.pk, date_of_service=item.fill_date, quantity=item.quantity,
        days_supply=item.days_supply, fill_number=1, scc_codes=tuple(item.scc_codes),
    )  # fmt: skip
    return claim_submit(subject=subject, actor=None)


def _service_rows(side: Side, pharmacist, setup, minutes_later: int) -> dict:
    """A booked CMR, a documented (billed) CMR with its lines and their export, an offer, and
    an inactive enrollment (another patient of the pharmacy)."""
    from billing.service_claim_services import clinical_service_document, service_claims_export
    from scheduling.services.appointments import offer_record

    pharmacy = side.patient.home_pharmacy
    starts_at = PREP_DAY + dt.timedelta(days=1, minutes=minutes_later)
    appointment = AppointmentFactory(
        pharmacy=pharmacy,
        patient=side.patient,
        pharmacist=pharmacist,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=40),
    )
    done_at = PREP_DAY - dt.timedelta(days=1)
    service = clinical_service_document(
        patient=side.patient,
        pharmacy=pharmacy,
        kind="cmr",
        pharmacist=pharmacist,
        started_at=done_at,
        ended_at=done_at + dt.timedelta(minutes=40),
        actor=pharmacist,
        diagnosis_codes=["I10"],
        payer=setup.payer,
    )
    export = service_claims_export(
        pharmacy=pharmacy,
        payer=setup.payer,
        date_from=done_at.date() - dt.timedelta(days=1),
        date_to=done_at.date() + dt.timedelta(days=1),
        export_format="837p",
        actor=pharmacist,
    )
    quiet = PatientFactory(
        organization=pharmacy.organization,
        home_pharmacy=pharmacy,
        last_name=f"{side.patient.last_name}quiet",
    )
    # Enrolled in June 2025 and never picked up since: on the inactive-enrollments report.
    inactive = SyncEnrollmentFactory(patient=quiet, pharmacy=pharmacy)
    offer = offer_record(
        patient=side.patient, kind="cmr", answer="later", place="record", actor=pharmacist
    )
    return {
        "appointment": appointment.public_id,
        "service": service.public_id,
        "line": service.lines.order_by("line_number").first().public_id,
        "export": export.public_id,
        "offer": offer.public_id,
        "inactive": inactive.public_id,
    }


def _clinical_rows(patient) -> dict:
    """A condition, allergy, immunization, stay, assessment response and agreement."""
    from patients.agreement_services import agreement_sign
    from patients.assessment_services import (
        assessment_library_install,
        assessment_response_record,
    )
    from patients.models import AssessmentTemplate, InpatientStay
    from tests.factories import AllergyFactory, ConditionFactory, ImmunizationFactory

    assessment_library_install()
    smoking = AssessmentTemplate.objects.select_related("current_version").get(key="smoking_status")
    response = assessment_response_record(
        patient=patient, template=smoking, answers={"status": "never"}, actor=None
    )
    stay = InpatientStay.objects.create(patient=patient, admitted_on=dt.date(2026, 1, 5))
    agreement = agreement_sign(
        patient=patient,
        kind="cmr_consent",
        method="typed_name",
        signer_name=patient.full_name,
        agreed=True,
        actor=None,
    )
    return {
        "condition": ConditionFactory(patient=patient).public_id,
        "allergy": AllergyFactory(patient=patient).public_id,
        "immunization": ImmunizationFactory(patient=patient).public_id,
        "stay": stay.public_id,
        "response": response.public_id,
        "agreement": agreement.public_id,
    }


@pytest.fixture
def world(sms_maple):
    maple = sms_maple
    main_st, elm = maple.pharmacies
    with time_machine.travel(NOW, tick=False) as traveller:
        main = _side(maple, main_st, last_name="Mainwaring")
        other = _side(maple, elm, last_name="Elmsworth")
        traveller.move_to(PREP_DAY)
        with tenant_scope(maple.organization):
            sweeps.cycles_open_prep()
            for side in (main, other):
                cycle = SyncCycle.objects.get(patient=side.patient)
                side.ids["cycle"] = cycle.public_id
                item = cycle.items.order_by("id").first()
                side.ids["item"] = item.public_id
                side.ids["claim"] = _claim_for(item).public_id
            for n, (side, pharmacy) in enumerate(((main, main_st), (other, elm))):
                setup = billing_setup(pharmacy, maple.pharmacist if n == 0 else maple.owner)
                side.ids.update(_service_rows(side, maple.pharmacist, setup, minutes_later=60 * n))
        pharmacist = UserFactory(email="limited.pharmacist@maple.test")
        membership = MembershipFactory(
            organization=maple.organization,
            user=pharmacist,
            role=Role.PHARMACIST,
            limited_to_pharmacies=True,
        )
        MembershipPharmacy.objects.create(
            organization=maple.organization, membership=membership, pharmacy=main_st
        )
        yield maple, main, other, pharmacist


def test_every_route_with_an_id_is_known():
    unknown = [
        f"{name} ({route})"
        for name, route in _routes_with_ids()
        if name not in ROUTES and name not in OTHER_ROUTES
    ]
    assert unknown == [], (
        "New routes take an id: add each to ROUTES (it shows or touches a patient: the "
        "visibility walk must exercise it) or to OTHER_ROUTES with the reason it does not."
    )
    names = {name for name, _ in _routes_with_ids()}
    assert set(ROUTES) <= names, "ROUTES names a route that no longer exists"


def _url(name: str, object_id) -> str:
    route = next(route for n, route in _routes_with_ids() if n == name)
    params = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)
    kwargs = {}
    for converter_name, group_name in params:
        key = converter_name or group_name
        kwargs[key] = PAGE_SLUGS.get(name, SLUGS).get(key, object_id)
    return reverse(name, kwargs=kwargs)


def _call(client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return client.post(url, {}, format="json") if url.startswith("/api/") else client.post(url)


def _walk(page_client, api_client, main: Side, other: Side) -> list[str]:
    problems = []
    # Reads first, then writes (a write on Main St may change what a later read shows).
    for name, (kind, method) in sorted(ROUTES.items(), key=lambda r: r[1][1]):
        elm_url, our_url = _url(name, other.ids[kind]), _url(name, main.ids[kind])
        client = api_client if elm_url.startswith("/api/") else page_client
        elm = _call(client, method, elm_url)
        ours = _call(client, method, our_url)
        if ours.status_code == 403:
            # The role may not use this route at all: the answer must not depend on the id.
            if elm.status_code != 403:
                problems.append(f"{name}: Elm Ave {elm.status_code} where Main St is 403")
            continue
        if elm.status_code != 404:
            problems.append(f"{name}: Elm Ave answered {elm.status_code}, not 404")
        if ours.status_code == 404 or ours.status_code >= 500:
            problems.append(f"{name}: Main St answered {ours.status_code}")
        if method == "get" and ours.status_code != 200:
            problems.append(f"{name}: Main St GET answered {ours.status_code}, not 200")
    return problems


@pytest.mark.parametrize("who", ["technician", "limited pharmacist"])
def test_a_limited_member_opens_only_their_pharmacys_patients(
    who, world, login, api_client_for, settings
):
    settings.MESSAGING_SIMULATOR_ENABLED = True
    maple, main, other, pharmacist = world
    user = maple.technician if who == "technician" else pharmacist
    with time_machine.travel(PREP_DAY, tick=False):
        page_client = login(user)
        api_client = api_client_for(user)
        problems = _walk(page_client, api_client, main, other)
    assert problems == []


def test_another_organization_gets_404_on_every_route(world, birch, login, api_client_for):
    """Birch's pharmacist names Maple's records (both pharmacies): every route is a 404."""
    _maple, main, other, _ = world
    problems = []
    with time_machine.travel(PREP_DAY, tick=False):
        page_client = login(birch.pharmacist)
        api_client = api_client_for(birch.pharmacist)
        for name, (kind, method) in sorted(ROUTES.items(), key=lambda r: r[1][1]):
            for side in (main, other):
                url = _url(name, side.ids[kind])
                client = api_client if url.startswith("/api/") else page_client
                answer = _call(client, method, url)
                if answer.status_code != 404:
                    problems.append(f"{name}: Birch got {answer.status_code}, not 404")
    assert problems == []


def test_an_unlimited_member_still_opens_every_pharmacys_patients(world, login, api_client_for):
    maple, _main, other, _ = world
    with time_machine.travel(PREP_DAY, tick=False):
        client = login(maple.pharmacist)
        assert client.get(f"/patients/{other.ids['patient']}/").status_code == 200
        api = api_client_for(maple.pharmacist)
        assert api.get(f"/api/v1/patients/{other.ids['patient']}/").status_code == 200


LISTS = [
    # (page or API path, needs the pharmacist role, must show Main St's patient)
    ("/patients/", False, "Mainwaring"),
    ("/patients/?status=", False, "Mainwaring"),
    ("/patients/?q=Elmsw", False, None),
    ("/patients/?q=Pat", False, "Mainwaring"),
    ("/fill-queue/", False, None),
    ("/sync/prep/", True, "Mainwaring"),
    ("/sync/enrollments/", True, "Mainwaring"),
    ("/reports/eligibility/?show=all", True, "Mainwaringcand"),
    ("/reports/eligibility.csv?show=all", True, "Mainwaringcand"),
    ("/inbox/?view=all", True, "Mainwaring"),
    ("/dashboard/", True, None),
    ("/api/v1/patients/", False, "Mainwaring"),
    ("/api/v1/patients/?search=Elmsw", False, None),
    ("/api/v1/patients/?search=pat", False, "Mainwaring"),
    ("/api/v1/prescriptions/", False, None),
    ("/api/v1/fills/", False, None),
    ("/api/v1/coverages/", False, None),
    ("/api/v1/enrollments/", False, "Mainwaring"),
    ("/api/v1/cycles/", False, None),
    ("/api/v1/messages/", True, None),
    ("/api/v1/conversations/?view=all", True, "Mainwaring"),
    ("/api/v1/reports/eligibility/?qualifying_only=false", True, "Mainwaringcand"),
]


@pytest.mark.parametrize("who", ["technician", "limited pharmacist"])
def test_every_list_search_and_export_leaves_other_pharmacies_patients_out(
    who, world, login, api_client_for
):
    maple, main, other, pharmacist = world
    user = maple.technician if who == "technician" else pharmacist
    elm_ids = {str(v) for v in other.ids.values()}
    main_ids = {str(v) for v in main.ids.values()}
    with time_machine.travel(PREP_DAY, tick=False):
        page_client = login(user)
        api_client = api_client_for(user)
        for path, pharmacist_only, expected in LISTS:
            client = api_client if path.startswith("/api/") else page_client
            response = client.get(path)
            if pharmacist_only and who == "technician":
                assert response.status_code in (403, 302), path
                continue
            assert response.status_code == 200, path
            body = response.content.decode()
            assert "Elmsworth" not in body, path
            assert not any(i in body for i in elm_ids), path
            if expected:
                assert expected in body, path
            if path in ("/api/v1/prescriptions/", "/api/v1/fills/", "/api/v1/coverages/"):
                assert any(i in body for i in main_ids), path


def test_writes_naming_another_pharmacys_patient_are_refused(world, api_client_for):
    maple, _main, other, pharmacist = world
    api = api_client_for(pharmacist)
    with time_machine.travel(PREP_DAY, tick=False):
        with tenant_scope(maple.organization):
            texts_before = Message.objects.count()
        text = api.post(
            "/api/v1/messages/", {"patient": str(other.ids["patient"]), "body": "Hi"}, format="json"
        )
        assert text.status_code == 404
        coverage = api.post(
            "/api/v1/coverages/",
            {
                "patient": str(other.ids["patient"]),
                "payer_name": "X",
                "plan_type": "cash",
                "effective_from": "2026-01-01",
            },
            format="json",
        )
        assert coverage.status_code == 400
        assert "patient" in coverage.json()["error"]["fields"]
        fill = api.post(
            "/api/v1/fills/",
            {
                "prescription": str(other.ids["prescription"]),
                "fill_date": "2026-03-01",
                "quantity": "30",
                "days_supply": 30,
            },
            format="json",
        )
        assert fill.status_code == 400
        assert "prescription" in fill.json()["error"]["fields"]
        enrollment = api.post(
            "/api/v1/enrollments/",
            {
                "patient": str(other.ids["patient"]),
                "prescriptions": [str(other.ids["prescription"])],
                "anchor_date": "2026-03-20",
                "cycle_days": 30,
                "consent_given_by": "The patient",
                "consent_method": "in_person",
            },
            format="json",
        )
        assert enrollment.status_code == 404
        with tenant_scope(maple.organization):
            assert Message.objects.count() == texts_before


# --- The rule itself --------------------------------------------------------------------------


def _membership_of(user, organization):
    return user.memberships.select_related("organization").get(organization=organization)


def test_a_patient_belongs_to_their_home_pharmacy_their_prescriptions_and_their_sync(maple):
    main_st, elm = maple.pharmacies
    with tenant_scope(maple.organization):
        tech = _membership_of(maple.technician, maple.organization)
        at_home = PatientFactory(organization=maple.organization, home_pharmacy=main_st)
        elsewhere = PatientFactory(organization=maple.organization, home_pharmacy=elm)
        rx_here = PatientFactory(organization=maple.organization, home_pharmacy=elm)
        PrescriptionFactory(patient=rx_here, pharmacy=main_st)
        no_home = PatientFactory(organization=maple.organization, home_pharmacy=None)
        FillFactory(prescription=PrescriptionFactory(patient=elsewhere, pharmacy=elm))
        seen = set(visible_patients(tech).values_list("pk", flat=True))
        assert seen == {at_home.pk, rx_here.pk}
        assert not patient_is_visible(no_home, tech) and not patient_is_visible(elsewhere, tech)
        # Jobs act for no member; organization-wide members see everyone.
        everyone = {at_home.pk, elsewhere.pk, rx_here.pk, no_home.pk}
        assert set(visible_patients(None).values_list("pk", flat=True)) == everyone
        owner = _membership_of(maple.owner, maple.organization)
        assert set(visible_patients(owner).values_list("pk", flat=True)) == everyone


def test_a_sync_enrollment_at_their_pharmacy_makes_the_patient_theirs(maple):
    main_st, elm = maple.pharmacies
    with time_machine.travel(NOW, tick=False):
        synced = make_patient(elm, due_dates=[dt.date(2026, 3, 12)])
        with tenant_scope(maple.organization):
            tech = _membership_of(maple.technician, maple.organization)
            assert not patient_is_visible(synced.patient, tech)
        enroll(main_st, synced, anchor=dt.date(2026, 3, 12))
        with tenant_scope(maple.organization):
            assert patient_is_visible(synced.patient, tech)


def test_an_organization_that_shares_records_lets_limited_members_see_every_patient(world, login):
    maple, _main, other, _ = world
    maple.organization.share_patient_records = True
    maple.organization.save()
    with time_machine.travel(PREP_DAY, tick=False):
        client = login(maple.technician)
        assert client.get(f"/patients/{other.ids['patient']}/").status_code == 200
        assert "Elmsworth" in client.get("/patients/").content.decode()


def test_records_are_not_shared_by_default(db):
    from medsync.models import Organization

    assert Organization._meta.get_field("share_patient_records").default is False


# --- Problem 5: bounded patient search --------------------------------------------------------


def test_search_matches_rx_numbers_with_exists_and_reads_at_most_six_words(maple):
    main_st, _ = maple.pharmacies
    with tenant_scope(maple.organization):
        ada = PatientFactory(organization=maple.organization, home_pharmacy=main_st)
        for n in range(5):
            PrescriptionFactory(patient=ada, pharmacy=main_st, rx_number=f"77700{n}")
        query = " ".join(["777001"] * 30)
        with CaptureQueriesContext(connection) as queries:
            found = list(patient_selectors.patient_search(query, membership=None, status=""))
        assert [p.pk for p in found] == [ada.pk]  # one row, however many prescriptions
        [sql] = [q["sql"] for q in queries.captured_queries if "patients_patient" in q["sql"]]
        assert 'JOIN "patients_prescription"' not in sql
        assert sql.count("EXISTS") == patient_selectors.SEARCH_MAX_WORDS
        assert patient_selectors.search_words("a " * 50) == ["a"] * 6


def test_the_api_search_is_capped_at_100_characters(maple, api_client_for):
    api = api_client_for(maple.pharmacist)
    ok = api.get("/api/v1/patients/", {"search": "a" * 100})
    assert ok.status_code == 200
    too_long = api.get("/api/v1/patients/", {"search": "a" * 101})
    assert too_long.status_code == 400
    assert "search" in too_long.json()["error"]["fields"]
    many_words = api.get("/api/v1/patients/", {"search": " ".join(["1234"] * 20)})
    assert many_words.status_code == 200


def test_a_patient_a_limited_member_enters_is_one_of_their_pharmacy(world, api_client_for):
    maple, _main, _other, pharmacist = world
    api = api_client_for(pharmacist)
    created = api.post(
        "/api/v1/patients/",
        {
            "first_name": "Nia",
            "last_name": "Newcomer",
            "date_of_birth": "1950-01-02",
            "phone": "608-555-0199",
        },
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["home_pharmacy"] == str(maple.pharmacies[0].public_id)
    assert api.get(f"/api/v1/patients/{created.json()['id']}/").status_code == 200
