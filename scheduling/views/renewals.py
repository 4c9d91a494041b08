"""Renewal requests of a cycle: the list with statuses, a fax PDF per prescriber, and the
NCPDP SCRIPT RxRenewalRequest-shaped export (CSV or JSON)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from medsync.csv_export import csv_writer
from medsync.decorators import require_permission
from medsync.roles import Perm
from medsync.services import audit_record
from patients.models import Prescription
from scheduling import renewal_documents, selectors, services
from scheduling.exceptions import SchedulingError
from scheduling.forms import RenewalStatusForm
from scheduling.views.common import cycle_or_404, today_for, viewed


def _packets(request, cycle, prescriber_id=None):
    packets = selectors.renewal_packets(
        cycle, today=today_for(request), prescriber_id=prescriber_id
    )
    viewed(request, [cycle.patient], via="renewals")
    return packets


@require_permission(Perm.MANAGE_ENROLLMENT)
def cycle_renewals(request, cycle_id):
    cycle = cycle_or_404(request, cycle_id)
    if request.method == "POST":  # "Prepare requests": open one per flagged prescription
        services.renewals_open(cycle=cycle, actor=request.user)
        return redirect("sync-renewals", cycle_id=cycle.public_id)
    renewals = list(selectors.renewals_of_cycle(cycle))
    viewed(request, [cycle.patient], via="renewals")
    prescribers = {}
    for renewal in renewals:
        key = str(renewal.prescriber.public_id) if renewal.prescriber else "none"
        prescribers.setdefault(key, {"prescriber": renewal.prescriber, "renewals": []})
        prescribers[key]["renewals"].append(renewal)
    return render(
        request,
        "scheduling/renewals.html",
        {"cycle": cycle, "groups": list(prescribers.items()), "renewals": renewals},
    )


@require_permission(Perm.MANAGE_ENROLLMENT)
def renewal_pdf(request, cycle_id, prescriber_id):
    cycle = cycle_or_404(request, cycle_id)
    packets = _packets(request, cycle, prescriber_id=prescriber_id)
    if not packets:
        raise Http404("No renewal requests for this prescriber.")
    audit_record(
        action="scheduling.renewal.pdf_downloaded",
        actor=request.user,
        target=cycle,
        metadata={"prescriber": prescriber_id},
    )
    response = HttpResponse(renewal_documents.renewal_pdf(packets[0]), "application/pdf")
    response["Content-Disposition"] = f'attachment; filename="renewal-{cycle.public_id}.pdf"'
    return response


@require_permission(Perm.MANAGE_ENROLLMENT)
def renewal_export(request, cycle_id, fmt):
    cycle = cycle_or_404(request, cycle_id)
    packets = _packets(request, cycle)
    now = timezone.now()
    if fmt == "json":
        body, content_type = (
            renewal_documents.script_json(packets, sent_time=now),
            "application/json",
        )
    else:
        body = renewal_documents.script_csv(packets, sent_time=now, writer_factory=csv_writer)
        content_type = "text/csv"
    audit_record(
        action="scheduling.renewal.exported",
        actor=request.user,
        target=cycle,
        metadata={"format": fmt},
    )
    response = HttpResponse(body, content_type)
    response["Content-Disposition"] = f'attachment; filename="renewals-{cycle.public_id}.{fmt}"'
    return response


@require_permission(Perm.MANAGE_ENROLLMENT)
@require_POST
def renewal_status(request, cycle_id, renewal_id):
    cycle = cycle_or_404(request, cycle_id)
    renewal = selectors.renewals_of_cycle(cycle).filter(public_id=renewal_id).first()
    if renewal is None:
        raise Http404("No such renewal request.")
    form = RenewalStatusForm(request.POST)
    try:
        if not form.is_valid():
            raise SchedulingError("Choose sent, approved or denied.")
        new_rx = None
        if form.cleaned_data["new_prescription"]:
            new_rx = Prescription.objects.filter(
                public_id=form.cleaned_data["new_prescription"], patient_id=cycle.patient_id
            ).first()
        services.renewal_status_set(
            renewal=renewal,
            status=form.cleaned_data["status"],
            actor=request.user,
            new_prescription=new_rx,
            note=form.cleaned_data["note"],
        )
    except SchedulingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Rx {renewal.prescription.rx_number}: recorded.")
    return redirect("sync-renewals", cycle_id=cycle.public_id)
