import pytest
from django.apps import apps
from django_scopes.exceptions import ScopeError

from medsync.models import AuditEvent, Membership, Pharmacy
from medsync.tenancy import TenantMissing, TenantOwnedModel, current_organization, tenant_scope
from tests.factories import PharmacyFactory


def tenant_owned_models():
    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantOwnedModel) or model is AuditEvent
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("model", tenant_owned_models(), ids=lambda m: m._meta.label)
def test_every_tenant_owned_model_refuses_a_query_without_a_tenant(model, maple):
    with pytest.raises(ScopeError):
        list(model.objects.all())
    with pytest.raises(ScopeError):
        model.objects.filter(pk=1).exists()
    with pytest.raises(ScopeError):
        model.objects.count()


def test_every_tenant_owned_table_carries_organization_id():
    for model in tenant_owned_models():
        field = model._meta.get_field("organization")
        assert field.related_model._meta.label == "medsync.Organization", model


@pytest.mark.django_db
def test_inside_a_tenant_only_its_rows_are_visible(maple, birch):
    with tenant_scope(maple.organization):
        names = set(Pharmacy.objects.values_list("name", flat=True))
        assert names == {"Maple Main St", "Maple Elm Ave"}
        assert not Pharmacy.objects.filter(pk=birch.pharmacies[0].pk).exists()
    with tenant_scope(birch.organization):
        assert list(Pharmacy.objects.values_list("name", flat=True)) == ["Birch Rx"]
        assert Membership.objects.count() == 1


def test_tenant_scope_refuses_none():
    with pytest.raises(TenantMissing), tenant_scope(None):
        pass


def test_current_organization_without_a_tenant_raises():
    with pytest.raises(TenantMissing):
        current_organization()


@pytest.mark.django_db
def test_a_write_gets_the_active_tenant_injected(maple):
    with tenant_scope(maple.organization):
        pharmacy = Pharmacy.objects.create(name="New", state="WI")
    assert pharmacy.organization_id == maple.organization.pk


@pytest.mark.django_db
def test_saving_another_orgs_row_inside_a_tenant_raises(maple, birch):
    birch_pharmacy = birch.pharmacies[0]
    with tenant_scope(maple.organization):
        birch_pharmacy.name = "Hijacked"
        with pytest.raises(TenantMissing):
            birch_pharmacy.save()
    birch_pharmacy.refresh_from_db()
    assert birch_pharmacy.name == "Birch Rx"


@pytest.mark.django_db
def test_scopes_nest_and_restore(maple, birch):
    with tenant_scope(maple.organization):
        with tenant_scope(birch.organization):
            assert current_organization() == birch.organization
            assert Pharmacy.objects.count() == 1
        assert current_organization() == maple.organization
        assert Pharmacy.objects.count() == 2


@pytest.mark.django_db
def test_factory_rows_of_two_tenants_never_mix_in_counts(maple, birch):
    PharmacyFactory.create_batch(3, organization=birch.organization)
    with tenant_scope(maple.organization):
        assert Pharmacy.objects.count() == 2
    with tenant_scope(birch.organization):
        assert Pharmacy.objects.count() == 4
