"""Claims pages: the list (filters, a page at a time) and one claim with its history, the D.0
record and the actions that work it (resubmit a reject, reverse or rebill a paid claim)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing import selectors, services
from billing.claim_models import Claim, ClaimStatus
from billing.forms import ClaimCorrectionForm, ClaimFilterForm, ClaimReverseForm
from billing.rejects import REJECT_CODES
from medsync.decorators import require_permission
from medsync.roles import Perm
from medsync.services import audit_record
from patients.services import patient_viewed

PAGE_SIZE = 25


@require_permission(Perm.VIEW_FILL_QUEUE)
def claim_list(request):
    """Claims newest first; filter by status, reject code, date of service, plan and patient."""
    data = request.GET.copy()
    data["reject_code"] = data.get("reject_code", "").strip().upper()
    form = ClaimFilterForm(
        data,
        statuses=ClaimStatus.choices,
        reject_codes=[(code, f"{code} {info[0]}") for code, info in sorted(REJECT_CODES.items())],
    )
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return HttpResponseBadRequest(f"{field}: {errors[0]}", content_type="text/plain")
    filters = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
    claims = selectors.claim_list(
        membership=request.membership,
        status=filters.get("status", ""),
        reject_code=filters.get("reject_code", ""),
        patient_public_id=filters.get("patient"),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        plan=filters.get("plan", ""),
    )
    page = Paginator(claims, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        action="billing.claim.listed",
        actor=request.user,
        metadata={"count": page.paginator.count, **{k: str(v) for k, v in filters.items()}},
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "form": form,
        "filtered": bool(filters),
        "filter_query": query.urlencode(),
    }
    return render(request, "billing/claim_list.html", context)


def _claim_or_404(request, public_id) -> Claim:
    try:
        return selectors.claim_detail(membership=request.membership, public_id=public_id)
    except Claim.DoesNotExist:
        raise Http404("No such claim.") from None


@require_permission(Perm.VIEW_FILL_QUEUE)
def claim_detail(request, public_id):
    claim = _claim_or_404(request, public_id)
    patient_viewed(patient=claim.patient, actor=request.user, via="billing.claim")
    related = list(
        selectors.claim_list(membership=request.membership)
        .filter(cycle_item_id=claim.cycle_item_id)
        .exclude(pk=claim.pk)
    )
    context = {
        "claim": claim,
        "history": list(selectors.claim_history(claim)),
        "related": related,
        "request_fields": sorted(claim.request_record.items()),
        "response_fields": sorted(claim.response_record.items()),
        "correction_form": ClaimCorrectionForm(
            initial={"quantity": claim.quantity, "days_supply": claim.days_supply}
        ),
        "reverse_form": ClaimReverseForm(),
        "can_work": claim.status in (ClaimStatus.REJECTED, ClaimStatus.PAID),
    }
    return render(request, "billing/claim_detail.html", context)


def _done(request, claim: Claim, new: Claim, verb: str):
    if new.status == ClaimStatus.REJECTED:
        codes = ", ".join(new.reject_codes)
        messages.warning(request, f"{verb}: rejected again ({codes}). See the fix below.")
    else:
        messages.success(request, f"{verb}: {new.get_status_display().lower()}.")
    return redirect("claim-detail", public_id=new.public_id)


@require_POST
@require_permission(Perm.PROCESS_FILLS)
def claim_work(request, public_id, action: str):
    """Resubmit a reject, rebill or reverse a paid claim (one action each)."""
    claim = _claim_or_404(request, public_id)
    form = (ClaimReverseForm if action == "reverse" else ClaimCorrectionForm)(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("claim-detail", public_id=claim.public_id)
    try:
        if action == "reverse":
            new = services.claim_reverse(
                claim, actor=request.user, reason=form.cleaned_data["reason"]
            )
            return _done(request, claim, new, "Reversed")
        if action == "rebill":
            new = services.claim_rebill(claim, actor=request.user, **form.corrections())
            return _done(request, claim, new, "Rebilled")
        new = services.claim_resubmit(claim, actor=request.user, **form.corrections())
        return _done(request, claim, new, "Resubmitted")
    except services.ClaimError as exc:
        messages.error(request, exc.message)
        return redirect("claim-detail", public_id=claim.public_id)
