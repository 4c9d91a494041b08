"""Appointments: the database refuses double booking, bad input is a 400 naming the field."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from scheduling.services import appointments as services
from tests.factories import AppointmentFactory, PatientFactory

START = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)


def _book(maple, patient, start, minutes=40, pharmacist=None, kind=AppointmentKind.CMR):
    return services.appointment_book(
        pharmacy=maple.pharmacies[0],
        patient=patient,
        kind=kind,
        pharmacist=pharmacist or maple.pharmacist,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=minutes),
        actor=maple.pharmacist,
        room="Consult 1",
    )


@pytest.mark.django_db(transaction=True)
def test_two_bookings_of_one_pharmacist_at_the_same_time_cannot_both_succeed(maple):
    """Two real connections: the first holds its booking uncommitted while the second tries."""
    patients = [PatientFactory(organization=maple.organization) for _ in range(2)]
    first_booked = threading.Event()
    release_first = threading.Event()
    outcomes: dict[str, object] = {}

    def first():
        try:
            with tenant_scope(maple.organization), transaction.atomic():
                _book(maple, patients[0], START)
                first_booked.set()
                release_first.wait(timeout=10)
            outcomes["first"] = "booked"
        except Exception as error:
            outcomes["first"] = error
            first_booked.set()
        finally:
            connection.close()

    def second():
        first_booked.wait(timeout=10)
        try:
            with tenant_scope(maple.organization):
                # Blocks on the first transaction's row, then the constraint refuses it.
                threading.Timer(0.5, release_first.set).start()
                _book(maple, patients[1], START + dt.timedelta(minutes=20))
            outcomes["second"] = "booked"
        except ValidationError as error:
            outcomes["second"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes["first"] == "booked"
    assert isinstance(outcomes["second"], ValidationError)
    assert "starts_at" in outcomes["second"].message_dict
    with tenant_scope(maple.organization):
        assert Appointment.objects.count() == 1
        assert Appointment.objects.get().patient == patients[0]


def test_back_to_back_and_other_pharmacists_are_fine_and_a_cancelled_slot_is_free(maple, floater):
    with tenant_scope(maple.organization):
        patient = PatientFactory(organization=maple.organization)
        first = _book(maple, patient, START)
        _book(maple, patient, START + dt.timedelta(minutes=40))  # starts as the first ends
        _book(maple, patient, START, pharmacist=floater)
        with pytest.raises(ValidationError) as refused:
            _book(maple, patient, START + dt.timedelta(minutes=10), minutes=10)
        assert "already booked" in str(refused.value)
        services.appointment_set_status(
            appointment=first, status=AppointmentStatus.CANCELLED, actor=maple.pharmacist
        )
        _book(maple, patient, START + dt.timedelta(minutes=10), minutes=10)
        assert Appointment.objects.exclude(status="cancelled").count() == 3


def test_a_floater_booked_in_one_organization_is_free_in_the_other(maple, birch, floater):
    """The constraint is per organization: one tenant's booking never leaks into another's."""
    with tenant_scope(maple.organization):
        _book(maple, PatientFactory(organization=maple.organization), START, pharmacist=floater)
    with tenant_scope(birch.organization):
        patient = PatientFactory(organization=birch.organization)
        services.appointment_book(
            pharmacy=birch.pharmacies[0],
            patient=patient,
            kind=AppointmentKind.VACCINATION,
            pharmacist=birch.pharmacist,
            starts_at=START,
            ends_at=START + dt.timedelta(minutes=15),
            actor=birch.pharmacist,
        )
        assert Appointment.objects.count() == 1


def test_a_technician_cannot_be_booked_as_the_pharmacist(maple):
    with tenant_scope(maple.organization), pytest.raises(ValidationError) as refused:
        _book(
            maple,
            PatientFactory(organization=maple.organization),
            START,
            pharmacist=maple.technician,
        )
    assert "pharmacist" in refused.value.message_dict


# --- API -----------------------------------------------------------------------------------


def _body(maple, who, **changes):
    body = {
        "pharmacy": str(maple.pharmacies[0].public_id),
        "patient": str(who.public_id),
        "pharmacist": str(maple.pharmacist.public_id),
        "kind": "cmr",
        "starts_at": "2026-12-07T09:00:00-06:00",
        "minutes": 40,
        "room": "Consult 1",
    }
    body.update(changes)
    return body


def test_the_api_books_lists_and_audits(maple, api_client_for):
    patient = PatientFactory(organization=maple.organization, home_pharmacy=maple.pharmacies[0])
    client = api_client_for(maple.pharmacist)
    response = client.post("/api/v1/appointments/", _body(maple, patient), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["ends_at"].startswith("2026-12-07T15:40:00")
    with tenant_scope(maple.organization):
        appointment = Appointment.objects.get()
        assert appointment.room == "Consult 1" and appointment.minutes == 40
        assert AuditEvent.objects.filter(action="scheduling.appointment.booked").count() == 1
    listed = client.get(
        "/api/v1/appointments/",
        {"pharmacy": str(maple.pharmacies[0].public_id), "date_from": "2026-12-07"},
    )
    assert [row["id"] for row in listed.json()["results"]] == [str(appointment.public_id)]
    again = client.post("/api/v1/appointments/", _body(maple, patient), format="json")
    assert again.status_code == 400
    assert "starts_at" in again.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": "2026-12-07T08:30:00-06:00", "minutes": None}, "ends_at"),
        ({"kind": "haircut"}, "kind"),
        ({"starts_at": "0001-01-01T00:00:00Z"}, "starts_at"),
        ({"minutes": 0}, "minutes"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    maple, api_client_for, changes, field
):
    patient = PatientFactory(organization=maple.organization)
    body = {k: v for k, v in _body(maple, patient, **changes).items() if v is not None}
    response = api_client_for(maple.pharmacist).post("/api/v1/appointments/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"], response.json()
    with tenant_scope(maple.organization):
        assert not Appointment.objects.exists()


@pytest.mark.parametrize("field", ["pharmacy", "patient", "pharmacist"])
def test_an_appointment_in_another_organizations_calendar_is_a_400(
    maple, birch, api_client_for, field
):
    patient = PatientFactory(organization=maple.organization)
    theirs = {
        "pharmacy": str(birch.pharmacies[0].public_id),
        "patient": str(PatientFactory(organization=birch.organization).public_id),
        "pharmacist": str(birch.pharmacist.public_id),
    }
    body = _body(maple, patient, **{field: theirs[field]})
    response = api_client_for(maple.pharmacist).post("/api/v1/appointments/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with tenant_scope(maple.organization):
        assert not Appointment.objects.exists()
    with tenant_scope(birch.organization):
        assert not Appointment.objects.exists()


def test_another_organizations_appointment_is_a_404(maple, birch, api_client_for):
    appointment = AppointmentFactory(
        pharmacy=birch.pharmacies[0],
        patient=PatientFactory(organization=birch.organization),
        pharmacist=birch.pharmacist,
    )
    client = api_client_for(maple.pharmacist)
    assert client.get(f"/api/v1/appointments/{appointment.public_id}/").status_code == 404
    response = client.post(
        f"/api/v1/appointments/{appointment.public_id}/status/", {"status": "cancelled"}
    )
    assert response.status_code == 404
    with tenant_scope(birch.organization):
        assert Appointment.objects.get().status == AppointmentStatus.BOOKED


def test_the_appointment_list_costs_a_fixed_number_of_queries(
    maple, api_client_for, django_assert_max_num_queries
):
    pharmacy = maple.pharmacies[0]
    for n in range(6):
        AppointmentFactory(
            pharmacy=pharmacy,
            patient=PatientFactory(organization=maple.organization),
            pharmacist=maple.pharmacist,
            starts_at=START + dt.timedelta(hours=n),
            ends_at=START + dt.timedelta(hours=n, minutes=30),
        )
    client = api_client_for(maple.pharmacist)
    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/appointments/")
    assert response.json()["count"] == 6
