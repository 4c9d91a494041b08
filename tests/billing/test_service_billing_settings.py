"""The service-billing settings page: tax ID, NPIs, payers and fees, validated and audited."""

from __future__ import annotations

from decimal import Decimal

from billing.models import MedicalPayer, PharmacistProvider, PharmacyBillingProfile, ServiceFee
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from tests.factories import valid_npi


def test_an_owner_sets_up_service_billing(maple, login):
    page = login(maple.owner)
    pharmacy = maple.pharmacies[0]
    assert page.get("/billing/services/settings/").status_code == 200
    posts = [
        {
            "form": "profile",
            "profile-pharmacy": pharmacy.public_id,
            "profile-tax_id": "39-1234567",
            "profile-taxonomy_code": "3336C0003X",
        },
        {
            "form": "provider",
            "provider-pharmacist": maple.pharmacist.public_id,
            "provider-npi": valid_npi(424242),
            "provider-first_name": "Ann",
            "provider-last_name": "Lee",
        },
        {"form": "payer", "payer-name": "Acme Medical", "payer-payer_id": "acme1"},
    ]
    for post in posts:
        assert page.post("/billing/services/settings/", post).status_code == 302, post
    with tenant_scope(maple.organization):
        payer = MedicalPayer.objects.get()
    fee = {
        "form": "fee",
        "fee-pharmacy": pharmacy.public_id,
        "fee-payer": payer.public_id,
        "fee-code": "99605",
        "fee-modifiers": "",
        "fee-charge": "80.00",
    }
    assert page.post("/billing/services/settings/", fee).status_code == 302
    with tenant_scope(maple.organization):
        assert PharmacyBillingProfile.objects.get().tax_id == "391234567"
        assert PharmacistProvider.objects.get().user == maple.pharmacist
        assert payer.payer_id == "ACME1"
        assert ServiceFee.objects.get().charge == Decimal("80.00")
        assert AuditEvent.objects.filter(action__startswith="billing.").count() == 4


def test_bad_settings_are_a_400_naming_the_field(maple, birch, login):
    page = login(maple.owner)
    bad_npi = {
        "form": "provider",
        "provider-pharmacist": maple.pharmacist.public_id,
        "provider-npi": "1234567890",
        "provider-first_name": "A",
        "provider-last_name": "B",
    }
    response = page.post("/billing/services/settings/", bad_npi)
    assert response.status_code == 400
    theirs = {
        "form": "profile",
        "profile-pharmacy": birch.pharmacies[0].public_id,
        "profile-tax_id": "391234567",
        "profile-taxonomy_code": "3336C0003X",
    }
    assert page.post("/billing/services/settings/", theirs).status_code == 400
    with tenant_scope(maple.organization):
        assert not PharmacistProvider.objects.exists()
        assert not PharmacyBillingProfile.objects.exists()


def test_a_technician_may_not_open_the_settings(maple, login):
    assert login(maple.technician).get("/billing/services/settings/").status_code == 403
