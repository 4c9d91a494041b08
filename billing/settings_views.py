"""The service-billing settings page: the pharmacy's tax ID, pharmacists' NPIs, medical
payers and the fee schedule (owners: Perm.MANAGE_PHARMACIES)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from billing import service_claim_services as services
from billing.models import (
    MedicalPayer,
    PharmacistProvider,
    PharmacyBillingProfile,
    ServiceFee,
)
from billing.service_forms import BillingProfileForm, FeeForm, PayerForm, ProviderForm
from medsync.decorators import require_permission
from medsync.models import Membership, User
from medsync.roles import Perm, Role
from medsync.selectors import pharmacies_visible_to


def _pharmacists():
    members = Membership.objects.filter(role__in=[Role.PHARMACIST, Role.OWNER])
    return User.objects.filter(memberships__in=members).distinct().order_by("email")


@require_permission(Perm.MANAGE_PHARMACIES)
def billing_settings(request):
    pharmacies = pharmacies_visible_to(request.membership)
    payers = MedicalPayer.objects.all()
    post = request.POST if request.method == "POST" else None
    which = request.POST.get("form") if post else None
    forms = {
        "profile": BillingProfileForm(post if which == "profile" else None, prefix="profile"),
        "provider": ProviderForm(post if which == "provider" else None, prefix="provider"),
        "payer": PayerForm(post if which == "payer" else None, prefix="payer"),
        "fee": FeeForm(post if which == "fee" else None, prefix="fee"),
    }
    forms["profile"].fields["pharmacy"].queryset = pharmacies
    forms["provider"].fields["pharmacist"].queryset = _pharmacists()
    forms["fee"].fields["pharmacy"].queryset = pharmacies
    forms["fee"].fields["payer"].queryset = payers
    form = forms.get(which)
    if form is not None and form.is_valid():
        data = form.cleaned_data
        try:
            if which == "profile":
                services.billing_profile_save(actor=request.user, **data)
            elif which == "provider":
                services.pharmacist_provider_save(
                    user=data.pop("pharmacist"), actor=request.user, **data
                )
            elif which == "payer":
                services.medical_payer_create(actor=request.user, **data)
            else:
                services.service_fee_save(
                    pharmacy=data["pharmacy"],
                    payer=data["payer"],
                    code=data["code"],
                    charge=data["charge"],
                    modifiers=(data["modifiers"] or "").replace(",", " ").split(),
                    actor=request.user,
                )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, "Saved.")
            return redirect("service-billing-settings")
    return render(
        request,
        "billing/service_billing_settings.html",
        {
            "forms": forms,
            "profiles": PharmacyBillingProfile.objects.select_related("pharmacy"),
            "providers": PharmacistProvider.objects.select_related("user"),
            "payers": payers,
            "fees": ServiceFee.objects.select_related("pharmacy", "payer").order_by(
                "pharmacy__name", "code"
            ),
        },
        status=400 if form is not None and form.errors else 200,
    )
