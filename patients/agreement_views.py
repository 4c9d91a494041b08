"""Agreement pages: signing at the counter (a signature pad, or a typed name), a one-time
link for the patient's own phone (the public page asks for the typed name; no login, no
patient data in the link), and the signed PDF."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from medsync.decorators import require_permission
from medsync.roles import Perm
from patients import selectors, services
from patients.agreement_models import AgreementKind, AgreementMethod, PatientAgreement
from patients.agreement_services import (
    agreement_link_find,
    agreement_link_issue,
    agreement_link_sign,
    agreement_paragraphs,
    agreement_sign,
    agreement_text,
    signature_png,
)
from patients.visibility import limit_to_visible_patients


def _patient_or_404(request, public_id):
    patient = selectors.patient_with_record(public_id, membership=request.membership)
    if patient is None:
        raise Http404("No such patient.")
    return patient


def _kind_or_404(kind: str) -> str:
    if kind not in AgreementKind.values:
        raise Http404("No such agreement.")
    return kind


def _pharmacy_name(patient) -> str:
    return patient.home_pharmacy.name if patient.home_pharmacy else patient.organization.name


@require_permission(Perm.EDIT_PATIENTS)
def agreement_counter(request, public_id, kind):
    """The counter screen: the text, a signature pad (or the typed name), the tick box."""
    patient = _patient_or_404(request, public_id)
    kind = _kind_or_404(kind)
    problems: list[str] = []
    link = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "link":
                token = agreement_link_issue(patient=patient, kind=kind, actor=request.user)
                link = request.build_absolute_uri(reverse("agreement-public", args=[token]))
            else:
                signature = signature_png(request.POST.get("signature", ""))
                method = AgreementMethod.SIGNATURE_PAD if signature else AgreementMethod.TYPED_NAME
                agreement_sign(
                    patient=patient,
                    kind=kind,
                    method=method,
                    signer_name=request.POST.get("signer_name", ""),
                    agreed=bool(request.POST.get("agreed")),
                    signature=signature,
                    actor=request.user,
                )
                messages.success(request, f"{agreement_text(kind)['title']} signed.")
                return redirect(reverse("patient-detail", args=[patient.public_id]) + "#clinical")
        except ValidationError as exc:
            problems = exc.messages
    services.patient_viewed(patient=patient, actor=request.user, via="agreement")
    return render(
        request,
        "patients/agreement_counter.html",
        {
            "patient": patient,
            "kind": kind,
            "text": agreement_text(kind),
            "paragraphs": agreement_paragraphs(kind, _pharmacy_name(patient)),
            "problems": problems,
            "link": link,
        },
        status=400 if problems else 200,
    )


@require_permission(Perm.VIEW_PATIENTS)
def agreement_pdf_download(request, agreement_id):
    agreement = (
        limit_to_visible_patients(
            PatientAgreement.objects.select_related("patient"), request.membership, "patient"
        )
        .filter(public_id=agreement_id)
        .first()
    )
    if agreement is None:
        raise Http404("No such agreement.")
    services.audit_record(
        action="patients.agreement.downloaded", actor=request.user, target=agreement.patient
    )
    response = HttpResponse(bytes(agreement.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="agreement-{agreement.public_id}.pdf"'
    return response


def agreement_public(request, token):
    """The patient's own page from a one-time link: no login; the token is the key."""
    link = agreement_link_find(token)
    if link is None:
        return render(request, "patients/agreement_public_done.html", {"expired": True}, status=404)
    problems: list[str] = []
    if request.method == "POST":
        try:
            agreement_link_sign(
                token=token,
                signer_name=request.POST.get("signer_name", ""),
                agreed=bool(request.POST.get("agreed")),
            )
        except ValidationError as exc:
            problems = exc.messages
        else:
            return render(request, "patients/agreement_public_done.html", {"expired": False})
    organization = link.organization
    return render(
        request,
        "patients/agreement_public.html",
        {
            "text": agreement_text(link.kind),
            "paragraphs": agreement_paragraphs(link.kind, organization.name),
            "pharmacy": organization.name,
            "problems": problems,
        },
        status=400 if problems else 200,
    )
