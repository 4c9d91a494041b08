"""The service-billing page: lines by status, exports per payer and range, line status."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import service_claim_selectors as selectors
from billing import service_claim_services as services
from billing.models import LineStatus
from billing.service_claim_api import export_file_response
from billing.service_forms import ExportForm, LineStatusForm, StatusFileForm
from medsync.decorators import require_permission
from medsync.roles import Perm, role_allows
from medsync.selectors import pharmacies_visible_to
from medsync.services import AuditEntry, audit_record_many

PAGE_SIZE = 25


@require_permission(Perm.VIEW_REPORTS)
def service_billing(request):
    wanted = request.GET.get("status", LineStatus.READY)
    if wanted not in LineStatus.values:
        wanted = LineStatus.READY
    lines = selectors.line_list(membership=request.membership, status=wanted)
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    if page.object_list:
        audit_record_many(
            [
                AuditEntry(
                    "patients.patient.viewed",
                    line.service.patient,
                    metadata={"via": "service_billing"},
                )
                for line in page.object_list
            ],
            actor=request.user,
        )
    today = dt.date.today()
    pharmacies = pharmacies_visible_to(request.membership)
    form = ExportForm(
        request.POST or None,
        pharmacies=pharmacies,
        payers=selectors.payer_list(),
        initial={
            "pharmacy": pharmacies.first(),
            "date_from": today.replace(day=1),
            "date_to": today,
            "format": "837p",
        },
    )
    if request.method == "POST":
        if not _may_export(request):
            raise Http404
        if form.is_valid():
            data = form.cleaned_data
            try:
                export = services.service_claims_export(
                    pharmacy=data["pharmacy"],
                    payer=data["payer"],
                    date_from=data["date_from"],
                    date_to=data["date_to"],
                    export_format=data["format"],
                    actor=request.user,
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Export {export.control_number} is ready.")
                return redirect("service-billing")
    exports = Paginator(selectors.export_list(membership=request.membership), 10).get_page(
        request.GET.get("exports")
    )
    return render(
        request,
        "billing/service_billing.html",
        {
            "page": page,
            "status": wanted,
            "statuses": LineStatus.choices,
            "form": form,
            "exports": exports,
            "may_export": _may_export(request),
        },
        status=400 if form.errors else 200,
    )


def _may_export(request) -> bool:
    return role_allows(request.membership.role, Perm.VERIFY_FILLS)


@require_permission(Perm.VIEW_REPORTS)
def export_download(request, export_id):
    export = selectors.export_list(membership=request.membership).filter(public_id=export_id)
    found = export.defer(None).first()
    if found is None:
        raise Http404("No such export.")
    return export_file_response(found, actor=request.user)


@require_POST
@require_permission(Perm.VERIFY_FILLS)
def line_status(request, line_id):
    line = selectors.line_list(membership=request.membership).filter(public_id=line_id).first()
    if line is None:
        raise Http404("No such line.")
    form = LineStatusForm(request.POST)
    if form.is_valid():
        try:
            services.claim_line_set_status(
                line=line,
                status=form.cleaned_data["status"],
                paid_amount=form.cleaned_data["paid_amount"],
                denial_reason=form.cleaned_data["denial_reason"] or "",
                actor=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    else:
        messages.error(request, "Choose paid or denied.")
    return redirect(f"{reverse('service-billing')}?status={line.status}")


@require_POST
@require_permission(Perm.VERIFY_FILLS)
def line_status_file(request):
    form = StatusFileForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file.")
        return redirect("service-billing")
    upload = form.cleaned_data["file"]
    if upload.size > 2 * 1024 * 1024:
        messages.error(request, "The file is larger than 2 MB.")
        return redirect("service-billing")
    try:
        text = upload.read().decode("utf-8-sig")
        count = services.claim_lines_status_from_file(text=text, actor=request.user)
    except UnicodeDecodeError:
        messages.error(request, "The file is not UTF-8 text.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{count} line{'s' if count != 1 else ''} updated.")
    return redirect(f"{reverse('service-billing')}?status=exported")
