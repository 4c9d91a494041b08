"""Pages of appointments and extra services: the calendar (day and week), booking,
documenting a service, a CMR's written summary, a pharmacist's day as ICS, and the
services-due partial shown at the prep contact, the pickup and on the patient record."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from billing import service_claim_selectors as billing_selectors
from billing.summary_pdf import render_cmr_summary
from medsync.decorators import require_permission
from medsync.roles import Perm
from medsync.selectors import pharmacies_visible_to
from medsync.services import AuditEntry, audit_record_many
from patients.models import Coverage
from patients.services import PATIENT_VIEWED
from scheduling import selectors as sync_selectors
from scheduling.appointment_forms import BookForm, DocumentForm, OfferForm
from scheduling.exceptions import NotFoundInTenant
from scheduling.ics import pharmacist_day_ics
from scheduling.models import AppointmentKind, OfferAnswer
from scheduling.selectors import appointments as selectors
from scheduling.services import appointments as services
from scheduling.views.common import today_for, viewed


def _patient_or_404(request, patient_id):
    try:
        return sync_selectors.patient_by_public_id(patient_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None


def _appointment_or_404(request, appointment_id):
    try:
        return selectors.appointment_by_public_id(appointment_id, membership=request.membership)
    except (NotFoundInTenant, ValidationError):
        raise Http404("No such appointment.") from None


def _pharmacy(request):
    pharmacies = pharmacies_visible_to(request.membership)
    wanted = request.GET.get("pharmacy")
    if wanted:
        try:
            found = pharmacies.filter(public_id=wanted).first()
        except ValidationError:
            found = None
        if found is None:
            raise Http404("No such pharmacy.")
        return found, pharmacies
    return pharmacies.first(), pharmacies


def _day(request, name: str = "date") -> dt.date:
    try:
        day = dt.date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return today_for(request)
    return day if dt.date(2000, 1, 1) <= day <= dt.date(2099, 12, 31) else today_for(request)


def _add_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@require_permission(Perm.VIEW_PATIENTS)
def calendar(request):
    pharmacy, pharmacies = _pharmacy(request)
    if pharmacy is None:
        return render(request, "scheduling/calendar.html", {"pharmacy": None})
    week = request.GET.get("view") == "week"
    day = _day(request)
    start = day - dt.timedelta(days=day.weekday()) if week else day
    days = selectors.calendar_of(
        pharmacy, start=start, days=7 if week else 1, membership=request.membership
    )
    shown = [a.patient for d in days for a in d.appointments]
    shown += [c.patient for d in days for c in d.pickups]
    audit_record_many(
        [
            AuditEntry(PATIENT_VIEWED, patient, metadata={"via": "calendar"})
            for patient in {p.pk: p for p in shown}.values()
        ],
        actor=request.user,
    )
    step = dt.timedelta(days=7 if week else 1)
    return render(
        request,
        "scheduling/calendar.html",
        {
            "pharmacy": pharmacy,
            "pharmacies": pharmacies,
            "days": days,
            "week": week,
            "day": day,
            "previous": start - step,
            "next": start + step,
            "zone": ZoneInfo(pharmacy.time_zone),
            "pharmacists": selectors.bookable_pharmacists(),
        },
    )


@require_permission(Perm.VIEW_PATIENTS)
def book(request, patient_id):
    patient = _patient_or_404(request, patient_id)
    pharmacies = pharmacies_visible_to(request.membership)
    pharmacists = selectors.bookable_pharmacists()
    cycle = None
    if request.GET.get("cycle") or request.POST.get("cycle"):
        try:
            cycle = sync_selectors.cycle_by_public_id(
                request.GET.get("cycle") or request.POST.get("cycle"),
                membership=request.membership,
            )
        except (NotFoundInTenant, ValidationError):
            raise Http404("No such cycle.") from None
    kind = request.GET.get("kind", AppointmentKind.CMR)
    initial = {
        "kind": kind if kind in AppointmentKind.values else AppointmentKind.CMR,
        "pharmacy": patient.home_pharmacy or pharmacies.first(),
        "pharmacist": request.user if pharmacists.filter(pk=request.user.pk).exists() else None,
        "day": cycle.anchor_date if cycle else today_for(request) + dt.timedelta(days=1),
    }
    form = BookForm(
        request.POST or None, initial=initial, pharmacies=pharmacies, pharmacists=pharmacists
    )
    if request.method == "POST" and form.is_valid():
        starts_at, ends_at = form.times()
        try:
            appointment = services.appointment_book(
                pharmacy=form.cleaned_data["pharmacy"],
                patient=patient,
                kind=form.cleaned_data["kind"],
                pharmacist=form.cleaned_data["pharmacist"],
                starts_at=starts_at,
                ends_at=ends_at,
                room=form.cleaned_data["room"],
                cycle=cycle,
                actor=request.user,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Booked: {appointment}.")
            day = appointment.starts_at.astimezone(ZoneInfo(appointment.pharmacy.time_zone))
            return redirect(
                f"{reverse('appointment-calendar')}?pharmacy={appointment.pharmacy.public_id}"
                f"&date={day.date().isoformat()}"
            )
    viewed(request, [patient], via="appointment.book")
    return render(
        request,
        "scheduling/appointment_book.html",
        {"form": form, "patient": patient, "cycle": cycle},
        status=400 if form.errors else 200,
    )


@require_permission(Perm.VERIFY_FILLS)
def document(request, appointment_id):
    appointment = _appointment_or_404(request, appointment_id)
    zone = ZoneInfo(appointment.pharmacy.time_zone)
    local = "%Y-%m-%dT%H:%M"
    form = DocumentForm(
        request.POST or None,
        zone=appointment.pharmacy.time_zone,
        payers=billing_selectors.payer_list(),
        coverages=Coverage.objects.filter(patient=appointment.patient),
        initial={
            "started": appointment.starts_at.astimezone(zone).strftime(local),
            "ended": appointment.ends_at.astimezone(zone).strftime(local),
            "new_patient": True,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            service = services.appointment_document(
                appointment=appointment, actor=request.user, **form.documentation()
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Service documented.")
            return redirect("clinical-service", service.public_id)
    viewed(request, [appointment.patient], via="appointment.document")
    return render(
        request,
        "scheduling/appointment_document.html",
        {"form": form, "appointment": appointment},
        status=400 if form.errors else 200,
    )


@require_POST
@require_permission(Perm.VIEW_PATIENTS)
def appointment_status(request, appointment_id, status):
    appointment = _appointment_or_404(request, appointment_id)
    try:
        services.appointment_set_status(appointment=appointment, status=status, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    day = appointment.starts_at.astimezone(ZoneInfo(appointment.pharmacy.time_zone)).date()
    return redirect(
        f"{reverse('appointment-calendar')}?pharmacy={appointment.pharmacy.public_id}"
        f"&date={day.isoformat()}"
    )


def _service_or_404(request, service_id):
    try:
        found = (
            billing_selectors.service_list(membership=request.membership)
            .filter(public_id=service_id)
            .first()
        )
    except ValidationError:
        found = None
    if found is None:
        raise Http404("No such service.")
    return found


@require_permission(Perm.VIEW_PATIENTS)
def service_detail(request, service_id):
    service = _service_or_404(request, service_id)
    viewed(request, [service.patient], via="service")
    zone = ZoneInfo(service.pharmacy.time_zone)
    return render(
        request,
        "scheduling/service_detail.html",
        {
            "service": service,
            "started": service.started_at.astimezone(zone),
            "ended": service.ended_at.astimezone(zone),
        },
    )


@require_permission(Perm.VIEW_PATIENTS)
def service_summary_pdf(request, service_id):
    service = _service_or_404(request, service_id)
    viewed(request, [service.patient], via="service.summary_pdf")
    response = HttpResponse(render_cmr_summary(service), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="summary-{service.public_id}.pdf"'
    return response


@require_permission(Perm.VIEW_PATIENTS)
def pharmacist_day(request):
    pharmacy, _ = _pharmacy(request)
    pharmacist = selectors.pharmacist_by_public_id(request.GET.get("pharmacist") or None)
    if pharmacy is None or pharmacist is None:
        raise Http404("No such pharmacist.")
    day = _day(request)
    appointments = selectors.pharmacist_day(
        pharmacist=pharmacist, pharmacy=pharmacy, day=day, membership=request.membership
    )
    viewed(request, [a.patient for a in appointments], via="appointment.ics")
    response = HttpResponse(
        pharmacist_day_ics(appointments, pharmacy=pharmacy, pharmacist=pharmacist, day=day),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="appointments-{day}.ics"'
    return response


@require_permission(Perm.VIEW_PATIENTS)
def services_due(request, patient_id):
    """The partial: services due for a patient, each with accept / decline / later."""
    patient = _patient_or_404(request, patient_id)
    return _due_partial(request, patient, request.GET.get("place", ""), request.GET.get("cycle"))


def _due_partial(request, patient, place: str, cycle_id) -> HttpResponse:
    return render(
        request,
        "scheduling/_services_due.html",
        {
            "patient": patient,
            "due": selectors.services_due(patient, today_for(request)),
            "place": place if place in ("prep", "pickup", "record") else "record",
            "cycle_id": str(cycle_id or ""),
        },
    )


@require_POST
@require_permission(Perm.VIEW_PATIENTS)
def offer_answer(request, patient_id):
    patient = _patient_or_404(request, patient_id)
    form = OfferForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose an answer.", status=400)
    data = form.cleaned_data
    cycle = None
    if data["cycle"]:
        try:
            cycle = sync_selectors.cycle_by_public_id(data["cycle"], membership=request.membership)
        except NotFoundInTenant:
            raise Http404("No such cycle.") from None
    services.offer_record(
        patient=patient,
        kind=data["kind"],
        detail=data["detail"],
        place=data["place"],
        answer=data["answer"],
        cycle=cycle,
        actor=request.user,
    )
    if data["answer"] == OfferAnswer.ACCEPTED:
        kind = {"vaccine": "vaccination", "cmr": "cmr", "bp_check": "bp_check"}[data["kind"]]
        target = f"{reverse('appointment-book', args=[patient.public_id])}?kind={kind}"
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)
    if request.htmx:
        return _due_partial(request, patient, data["place"], data["cycle"])
    return redirect("sync-patient", patient.public_id)


urlpatterns = [
    path("appointments/", calendar, name="appointment-calendar"),
    path("appointments/day.ics", pharmacist_day, name="appointment-ics"),
    path("appointments/book/<uuid:patient_id>/", book, name="appointment-book"),
    path(
        "appointments/<uuid:appointment_id>/document/", document, name="appointment-document-page"
    ),
    path(
        "appointments/<uuid:appointment_id>/<slug:status>/",
        appointment_status,
        name="appointment-set-status",
    ),
    path("services/<uuid:service_id>/", service_detail, name="clinical-service"),
    path(
        "services/<uuid:service_id>/summary.pdf",
        service_summary_pdf,
        name="clinical-service-summary",
    ),
    path("patients/<uuid:patient_id>/services-due/", services_due, name="services-due"),
    path("patients/<uuid:patient_id>/service-offers/", offer_answer, name="service-offer-answer"),
]
