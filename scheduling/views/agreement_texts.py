""" "Send by text" on the agreement page: a one-time signing link sent as an automated text
(patients shows the page; sending lives here because patients may not use messaging)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm
from messaging.models import MessageStatus
from patients.agreement_models import AgreementKind
from scheduling import selectors as sync_selectors
from scheduling.exceptions import NotFoundInTenant
from scheduling.services.agreement_texts import agreement_link_text


@require_POST
@require_permission(Perm.EDIT_PATIENTS)
def agreement_link_send(request, patient_id, kind):
    try:
        patient = sync_selectors.patient_by_public_id(patient_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    if kind not in AgreementKind.values:
        raise Http404("No such agreement.")
    page = reverse("agreement-counter", args=[patient.public_id, kind])
    try:
        message = agreement_link_text(
            patient=patient,
            kind=kind,
            actor=request.user,
            url_for=lambda token: request.build_absolute_uri(
                reverse("agreement-public", args=[token])
            ),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(page)
    if message.status == MessageStatus.SKIPPED:
        messages.warning(
            request,
            f"Not texted: {message.get_skip_reason_display().lower()}. Make a link and give "
            "it to the patient another way.",
        )
    else:
        messages.success(request, f"Signing link texted to {patient.first_name}.")
    return redirect(page)


urlpatterns = [
    path(
        "patients/<uuid:patient_id>/agreements/<slug:kind>/send-link/",
        agreement_link_send,
        name="agreement-link-send",
    ),
]
