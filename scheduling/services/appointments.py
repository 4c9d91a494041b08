"""Writes of appointments and extra-service offers (audited, atomic).

appointment_book       book a pharmacist, a room and a time (the database refuses doubles)
appointment_set_status done, no-show or cancelled
appointment_document   document the service an appointment was for (billing writes it)
offer_record           an extra service offered and the patient's answer
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.service_claim_services import clinical_service_document
from medsync.models import Pharmacy, User
from medsync.services import audit_record
from patients.models import Patient
from scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    OfferAnswer,
    OfferKind,
    OfferPlace,
    ServiceOffer,
    SyncCycle,
)
from scheduling.models.appointments import SERVICE_KIND_OF
from scheduling.selectors.appointments import bookable_pharmacists

MAX_LENGTH = dt.timedelta(hours=4)
STATUS_CHANGES = {
    AppointmentStatus.BOOKED: {
        AppointmentStatus.DONE,
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.CANCELLED,
    },
    AppointmentStatus.DONE: set(),
    AppointmentStatus.NO_SHOW: set(),
    AppointmentStatus.CANCELLED: set(),
}


@transaction.atomic
def appointment_book(
    *,
    pharmacy: Pharmacy,
    patient: Patient,
    kind: str,
    pharmacist: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: User,
    room: str = "",
    cycle: SyncCycle | None = None,
) -> Appointment:
    """Book an appointment. Another live booking of the pharmacist that overlaps is refused by
    the database's exclusion constraint (also between two simultaneous requests)."""
    if kind not in AppointmentKind.values:
        raise ValidationError({"kind": [f"One of {', '.join(AppointmentKind.values)}."]})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": ["The end must be after the start."]})
    if ends_at - starts_at > MAX_LENGTH:
        raise ValidationError({"ends_at": ["An appointment lasts at most 4 hours."]})
    if not bookable_pharmacists().filter(pk=pharmacist.pk).exists():
        raise ValidationError({"pharmacist": ["Not a pharmacist of this organization."]})
    if cycle is not None and cycle.patient_id != patient.pk:
        raise ValidationError({"cycle": ["This cycle is another patient's."]})
    appointment = Appointment(
        pharmacy=pharmacy,
        patient=patient,
        kind=kind,
        pharmacist=pharmacist,
        starts_at=starts_at,
        ends_at=ends_at,
        room=(room or "").strip()[:40],
        cycle=cycle,
        booked_by=actor,
    )
    try:
        with transaction.atomic():
            appointment.save()
    except IntegrityError as error:
        if "appointment_no_double_booking" in str(error):
            raise ValidationError(
                {"starts_at": [f"{pharmacist} is already booked at that time."]}
            ) from None
        raise
    audit_record(
        action="scheduling.appointment.booked",
        actor=actor,
        target=appointment,
        metadata={"patient": str(patient.public_id), "kind": kind},
    )
    return appointment


@transaction.atomic
def appointment_set_status(*, appointment: Appointment, status: str, actor: User) -> Appointment:
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if status not in STATUS_CHANGES.get(appointment.status, set()):
        raise ValidationError(
            {"status": [f"A {appointment.status} appointment cannot become {status}."]}
        )
    appointment.status = status
    appointment.save(update_fields=["status"])
    audit_record(
        action=f"scheduling.appointment.{status}",
        actor=actor,
        target=appointment,
        metadata={"patient": str(appointment.patient.public_id)},
    )
    return appointment


@transaction.atomic
def appointment_document(*, appointment: Appointment, actor: User, **documentation):
    """Document the service of a booked appointment; the appointment becomes done."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    kind = SERVICE_KIND_OF.get(appointment.kind)
    if kind is None:
        raise ValidationError({"kind": ["A sync pickup has no service to document."]})
    if appointment.service_id is not None:
        raise ValidationError({"appointment": ["This appointment is already documented."]})
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.DONE):
        raise ValidationError({"appointment": [f"The appointment is {appointment.status}."]})
    documentation.setdefault("started_at", appointment.starts_at)
    documentation.setdefault("ended_at", appointment.ends_at)
    service = clinical_service_document(
        patient=appointment.patient,
        pharmacy=appointment.pharmacy,
        kind=kind,
        pharmacist=appointment.pharmacist,
        actor=actor,
        **documentation,
    )
    appointment.service = service
    appointment.status = AppointmentStatus.DONE
    appointment.save(update_fields=["service", "status"])
    return service


@transaction.atomic
def offer_record(
    *,
    patient: Patient,
    kind: str,
    answer: str,
    place: str,
    actor: User,
    detail: str = "",
    cycle: SyncCycle | None = None,
    appointment: Appointment | None = None,
) -> ServiceOffer:
    """Record that a service was offered and what the patient said."""
    if kind not in OfferKind.values:
        raise ValidationError({"kind": [f"One of {', '.join(OfferKind.values)}."]})
    if answer not in OfferAnswer.values:
        raise ValidationError({"answer": [f"One of {', '.join(OfferAnswer.values)}."]})
    if place not in OfferPlace.values:
        raise ValidationError({"place": [f"One of {', '.join(OfferPlace.values)}."]})
    if cycle is not None and cycle.patient_id != patient.pk:
        raise ValidationError({"cycle": ["This cycle is another patient's."]})
    offer = ServiceOffer.objects.create(
        patient=patient,
        kind=kind,
        detail=(detail or "").strip()[:80],
        place=place,
        cycle=cycle,
        answer=answer,
        offered_at=timezone.now(),
        offered_by=actor,
        appointment=appointment,
    )
    audit_record(
        action="scheduling.service_offer.recorded",
        actor=actor,
        target=offer,
        metadata={"patient": str(patient.public_id), "kind": kind, "answer": answer},
    )
    return offer
