"""What the sync pages share: today in the member's pharmacy, permission checks, going
back after a post, and auditing the patients a page showed."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from medsync.redirects import safe_next
from medsync.roles import Perm, role_allows
from medsync.selectors import pharmacies_visible_to
from medsync.services import AuditEntry, audit_record_many
from patients.services import PATIENT_VIEWED, patient_viewed
from scheduling import selectors
from scheduling.dates import local_today
from scheduling.exceptions import NotFoundInTenant
from scheduling.forms import ActionForm

PAGE_SIZE = 25


def today_for(request) -> dt.date:
    """Today in the time zone of the member's first visible pharmacy."""
    pharmacy = pharmacies_visible_to(request.membership).first()
    zone = pharmacy.time_zone if pharmacy else "America/Chicago"
    return local_today(zone)


def can(request, perm: Perm) -> bool:
    """Whether the member's role allows `perm`."""
    return role_allows(request.membership.role, perm)


def back(request, fallback: str):
    """Redirect to where the post came from (a page of this site only), else to `fallback`."""
    target = safe_next(
        request,
        request.POST.get("next"),
        request.META.get("HTTP_REFERER"),
        fallback=reverse(fallback),
    )
    return redirect(target)


def viewed(request, patients, via: str) -> None:
    """Audit each patient a page showed, once."""
    for patient in {p.pk: p for p in patients}.values():
        patient_viewed(patient=patient, actor=request.user, via=via)


def viewed_many(request, patients, via: str) -> None:
    """Audit each patient a list page showed, once, in one INSERT (the same event
    `patient_viewed` writes), so a page of the fill queue costs a fixed number of queries."""
    audit_record_many(
        (
            AuditEntry(PATIENT_VIEWED, target=patient, metadata={"via": via})
            for patient in {p.pk: p for p in patients}.values()
        ),
        actor=request.user,
    )


def cycle_or_404(request, cycle_id):
    """The member's cycle by public id; anyone else's is a 404."""
    try:
        return selectors.cycle_by_public_id(cycle_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such cycle.") from None


def bound(form_class: type[ActionForm], request) -> ActionForm:
    """The page's form bound to the post, validated (its cleaned_data ready to read)."""
    form = form_class(request.POST)
    form.is_valid()
    return form
