import pytest
from django.core.management import call_command
from django.db.models import Count

from medsync.models import Membership, Organization
from medsync.tenancy import tenant_scope
from patients.models import Coverage, Fill, Household, Patient, Prescription, PriceListEntry
from patients.visibility import visible_patients


@pytest.mark.django_db
def test_seed_demo_gives_maple_living_patient_records_and_is_idempotent():
    call_command("seed_demo")
    maple = Organization.objects.get(slug="maple")
    with tenant_scope(maple):
        counts = (Patient.objects.count(), Prescription.objects.count(), Fill.objects.count())
        assert counts[0] == 40
        per_patient = Patient.objects.annotate(n=Count("prescriptions")).values_list("n", flat=True)
        assert min(per_patient) >= 2 and max(per_patient) <= 10
        assert Fill.objects.count() > 40 * 2 * 6  # about a year of history
        assert Household.objects.exists()
        assert set(Coverage.objects.values_list("plan_type", flat=True)) >= {
            "medicare_part_d",
            "commercial",
        }
        assert Prescription.objects.filter(sync_decision="synced").exists()
        assert Prescription.objects.filter(sync_decision="undecided").exists()
        # Every demo prescription is priced at its pharmacy (issue 10 defect 2).
        priced = set(PriceListEntry.objects.values_list("pharmacy_id", "ndc"))
        assert priced >= set(Prescription.objects.values_list("pharmacy_id", "drug__ndc"))
        # Both pharmacies have patients, and the demo technician (Main St only) sees Main
        # St's and none of Elm Ave's (issue 14, problem 1).
        tech = Membership.objects.select_related("organization").get(
            user__email="tech@maple.example"
        )
        main_st = tech.membershippharmacy_set.get().pharmacy
        per_pharmacy = dict(
            Patient.objects.values_list("home_pharmacy__name").annotate(n=Count("id"))
        )
        assert len(per_pharmacy) == 2 and min(per_pharmacy.values()) >= 10
        visible = visible_patients(tech)
        assert visible.count() == per_pharmacy[main_st.name]
        assert not visible.exclude(home_pharmacy=main_st).exists()
    with tenant_scope(Organization.objects.get(slug="birch")):
        assert 3 <= Patient.objects.count() <= 10
    call_command("seed_demo")
    with tenant_scope(maple):
        assert (
            Patient.objects.count(),
            Prescription.objects.count(),
            Fill.objects.count(),
        ) == counts
