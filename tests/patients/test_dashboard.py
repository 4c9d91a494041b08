import pytest

from tests.factories import PatientFactory, PrescriptionFactory

pytestmark = pytest.mark.django_db


def test_the_dashboard_counts_this_orgs_records(client, maple, birch, ada, bob, login):
    PatientFactory.create_batch(2, organization=maple.organization)
    login(maple.pharmacist)
    page = client.get("/dashboard/").content.decode()
    assert "Patient records" in page and "Who to enroll next" in page
    assert 'data-testid="card-records-1">3<' in page  # Ada + 2, never Birch's Bob
    assert 'data-testid="card-records-2">1<' in page  # Ada's statin is not reconciled


def test_an_empty_org_is_told_to_import(client, maple, login):
    login(maple.owner)
    page = client.get("/dashboard/").content.decode()
    assert "/patients/import/" in page and "No import yet." in page


def test_the_dashboard_costs_a_fixed_number_of_queries(
    client, maple, ada, login, django_assert_max_num_queries
):
    login(maple.pharmacist)
    with django_assert_max_num_queries(30):
        client.get("/dashboard/")
    for _ in range(15):
        PrescriptionFactory(
            patient=PatientFactory(organization=maple.organization), pharmacy=maple.pharmacies[0]
        )
    with django_assert_max_num_queries(30):
        assert client.get("/dashboard/").status_code == 200
