"""A pharmacist's day as an iCalendar file (icalendar), one event per appointment.

Events carry the kind, the room and the patient's initials only: calendars end up on phones
and in mail, so no names, drugs or conditions (DOMAIN 8's rule for texts, applied here too).
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event

from medsync.models import Pharmacy, User


def pharmacist_day_ics(
    appointments, *, pharmacy: Pharmacy, pharmacist: User, day: dt.date
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//MedSync//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{pharmacist} at {pharmacy.name} {day.isoformat()}")
    for appointment in appointments:
        patient = appointment.patient
        initials = f"{patient.first_name[:1]}{patient.last_name[:1]}".upper()
        event = Event()
        event.add("uid", f"{appointment.public_id}@medsync")
        event.add("dtstamp", appointment.booked_at)
        event.add("dtstart", appointment.starts_at)
        event.add("dtend", appointment.ends_at)
        event.add("summary", f"{appointment.get_kind_display()} ({initials})")
        if appointment.room:
            event.add("location", f"{pharmacy.name}, {appointment.room}")
        else:
            event.add("location", pharmacy.name)
        event.add("status", "CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
