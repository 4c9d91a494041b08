"""Imports from the pharmacy system: one code path, idempotent, nothing half-made."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.imports import ImportFileInput, run_import
from patients.models import Coverage, Fill, Household, Patient, Prescriber, Prescription
from tests.factories import DrugFactory, valid_npi

TODAY = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)

PATIENTS = """mrn,first_name,last_name,date_of_birth,phone,sex,state,household
P001,Ada,Lovelace,1950-12-10,(608) 555-0101,F,WI,Lovelace home
P002,Alan,Turing,06/23/1952,608-555-0102,M,WI,
"""

COVERAGE = """mrn,payer_name,bin,pcn,group,member_id,plan_type,copay_amount,coinsurance_percent,effective_from
P001,Acme Part D,610014,MEDDPRIME,PDP1,A1,medicare_part_d,10.00,,2026-01-01
P002,Blue Commercial,004336,ADV,G9,B2,commercial,,25,2026-01-01
"""


def prescriptions_csv(npi):
    return f"""rx_number,mrn,ndc,sig,daily_dose,quantity,days_supply,refills_authorized,refills_remaining,written_date,prescriber_npi,prescriber_first_name,prescriber_last_name,pharmacy_ncpdp
1000001,P001,00093-7155-98,Take 1 tablet daily,1,30,30,11,9,2026-01-05,{npi},Grace,Hopper,NCPDP
1000002,P001,0093-7156-98,Take 1 tablet twice daily as needed for pain,2,60,30,2,2,2026-01-05,{npi},Grace,Hopper,NCPDP
1000003,P002,00093715598,Take 1 tablet daily,1,90,90,3,3,2026-02-01,,,,NCPDP
"""


FILLS = """rx_number,fill_date,quantity,days_supply,fill_number,scc_codes,patient_pay,picked_up_at
1000001,2026-09-01,30,30,1,,10.00,2026-09-02T10:15:00
1000001,2026-10-01,30,30,2,,10.00,2026-10-01
1000001,2026-10-29,28,28,3,47,9.33,
1000003,2026-08-01,90,90,1,,0,
"""


@pytest.fixture
def catalog(db):
    DrugFactory(ndc="00093715598", name="Atorvastatin")
    DrugFactory(ndc="00093715698", name="Tramadol")


def at_main_st(text: str, ncpdp: str) -> str:
    """Give every row the pharmacy column (Maple has two locations)."""
    if "NCPDP" in text:
        return text.replace("NCPDP", ncpdp)
    header, *rows = text.strip("\n").split("\n")
    return "\n".join([header + ",pharmacy_ncpdp", *[r + "," + ncpdp for r in rows]]) + "\n"


@pytest.fixture
def files(maple):
    npi = valid_npi(777)
    ncpdp = maple.pharmacies[0].ncpdp_id
    return [
        ImportFileInput("fills.csv", at_main_st(FILLS, ncpdp)),
        ImportFileInput("prescriptions.csv", at_main_st(prescriptions_csv(npi), ncpdp)),
        ImportFileInput("coverage.csv", COVERAGE),
        ImportFileInput("patients.csv", PATIENTS),
    ]


def _import(org, files, apply=True):
    with time_machine.travel(TODAY, tick=False), tenant_scope(org):
        return {r.kind: r for r in run_import(org, files, apply=apply)}


@pytest.mark.django_db
def test_a_preview_reports_what_would_happen_and_writes_nothing(maple, catalog, files):
    results = _import(maple.organization, files, apply=False)
    assert (results["patients"].created, results["coverage"].created) == (2, 2)
    assert results["prescriptions"].created == 3
    assert results["fills"].created == 4
    assert all(r.rejected == 0 for r in results.values())
    with tenant_scope(maple.organization):
        assert Patient.objects.count() == Prescription.objects.count() == Fill.objects.count() == 0
        assert Household.objects.count() == Prescriber.objects.count() == 0


@pytest.mark.django_db
def test_an_import_creates_every_record_with_normalised_values(maple, catalog, files):
    _import(maple.organization, files)
    with tenant_scope(maple.organization):
        ada = Patient.objects.get(mrn="P001")
        assert ada.phone == "+16085550101"
        assert ada.household.name == "Lovelace home"
        turing = Patient.objects.get(mrn="P002")
        assert turing.date_of_birth == dt.date(1952, 6, 23)
        assert Coverage.objects.get(patient=turing).coinsurance_percent == Decimal("25.00")
        prn = Prescription.objects.get(rx_number="1000002")
        assert prn.drug.name == "Tramadol"  # 4-4-2 NDC normalised to 11 digits
        assert prn.therapy_type == "prn"  # read from the sig
        assert prn.prescriber.last_name == "Hopper"
        assert prn.expiration_date == dt.date(2027, 1, 5)
        short = Fill.objects.get(fill_date=dt.date(2026, 10, 29))
        assert short.scc_codes == [47] and short.patient_pay == Decimal("9.33")
        first = Fill.objects.get(fill_date=dt.date(2026, 9, 1))
        assert first.picked_up_at == dt.datetime(2026, 9, 2, 15, 15, tzinfo=dt.UTC)  # CDT -> UTC
        assert Prescriber.objects.count() == 1


@pytest.mark.django_db
def test_re_importing_the_same_files_changes_nothing(maple, catalog, files):
    _import(maple.organization, files)
    with tenant_scope(maple.organization):
        before = list(Fill.objects.order_by("id").values())
    again = _import(maple.organization, files)
    for result in again.values():
        assert (result.created, result.updated, result.rejected) == (0, 0, 0)
        assert result.unchanged == result.rows_total
    with tenant_scope(maple.organization):
        assert list(Fill.objects.order_by("id").values()) == before
        assert Patient.objects.count() == 2


@pytest.mark.django_db
def test_a_changed_row_updates_the_record(maple, catalog, files):
    _import(maple.organization, files)
    changed = [ImportFileInput("patients.csv", PATIENTS.replace("Ada,Lovelace", "Ada,Byron"))]
    result = _import(maple.organization, changed)["patients"]
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    with tenant_scope(maple.organization):
        assert Patient.objects.get(mrn="P001").last_name == "Byron"


BAD_FILLS = """rx_number,fill_date,quantity,days_supply,fill_number,scc_codes,patient_pay
1000001,2026-09-01,30,30,1,,10.00
1000001,2025-12-01,30,30,0,,10.00
1000001,2026-10-05,-30,30,2,,10.00
1000001,2026-10-06,30,0,2,,10.00
9999999,2026-10-07,30,30,2,,10.00
1000001,2026-10-08,30,30,2,abc,10.00
1000001,2026-09-01,30,30,1,,10.00
1000001,not-a-date,30,30,1,,10.00
1000001,2026-12-25,30,30,1,,10.00
1000003,2026-10-10,90,90,2,,0
"""


@pytest.mark.django_db
def test_bad_rows_are_reported_by_line_and_only_good_rows_land(maple, catalog, files):
    _import(maple.organization, files[1:])  # everything but fills
    bad = at_main_st(BAD_FILLS, maple.pharmacies[0].ncpdp_id)
    result = _import(maple.organization, [ImportFileInput("fills.csv", bad)])["fills"]
    reasons = {p.line: p.reason for p in result.errors}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9, 10}
    assert "before the prescription was written" in reasons[3]
    assert "quantity must be more than 0" in reasons[4]
    assert "days_supply must be more than 0" in reasons[5]
    assert "rx_number 9999999 matches no prescription" in reasons[6]
    assert "scc_codes" in reasons[7]
    assert "duplicate of line 2" in reasons[8]
    assert "not a date" in reasons[9]
    assert "in the future" in reasons[10]
    assert result.created == 2
    with tenant_scope(maple.organization):
        assert sorted(Fill.objects.values_list("fill_date", flat=True)) == [
            dt.date(2026, 9, 1),
            dt.date(2026, 10, 10),
        ]


@pytest.mark.django_db
def test_a_file_missing_required_columns_is_rejected_whole(maple, catalog):
    text = "mrn,first_name\nP1,Ada\n"
    result = _import(maple.organization, [ImportFileInput("p.csv", text)])["patients"]
    assert result.errors[0].line == 1
    assert "last_name, date_of_birth, phone" in result.errors[0].reason
    with tenant_scope(maple.organization):
        assert not Patient.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("P9,Bo,Diddley,1950-01-01,12", "not a valid phone number"),
        ("P9,Bo,Diddley,2099-01-01,6085550199", "in the future"),
        ("P9,,Diddley,1950-01-01,6085550199", "first_name is empty"),
        ("P9,Bo,Diddley,1950-01-01,6085550199,extra", "more values than the header"),
    ],
)
def test_patient_rows_get_specific_reasons(maple, row, reason):
    text = "mrn,first_name,last_name,date_of_birth,phone\n" + row + "\n"
    result = _import(maple.organization, [ImportFileInput("p.csv", text)])["patients"]
    assert reason in result.errors[0].reason
    with tenant_scope(maple.organization):
        assert not Patient.objects.exists()


@pytest.mark.django_db
def test_prescription_rows_check_npi_ndc_refills_and_days_supply(maple, catalog, files):
    _import(maple.organization, files[2:])  # coverage + patients
    text = (
        "rx_number,mrn,ndc,sig,daily_dose,quantity,days_supply,refills_authorized,"
        "refills_remaining,written_date,prescriber_npi,prescriber_last_name\n"
        "2000001,P001,00093715598,daily,1,30,30,1,1,2026-01-05,1234567890,Doe\n"
        "2000002,P001,12345-678-90,daily,1,30,30,1,1,2026-01-05,,\n"
        "2000003,P001,00093715598,daily,1,30,30,1,3,2026-01-05,,\n"
        "2000004,P001,0009371559,daily,1,30,30,1,1,2026-01-05,,\n"
        "2000005,P001,00093715598,daily,1,90,30,1,1,2026-01-05,,\n"
    )
    text = at_main_st(text, maple.pharmacies[0].ncpdp_id)
    result = _import(maple.organization, [ImportFileInput("rx.csv", text)])["prescriptions"]
    reasons = {p.line: p.reason for p in result.errors}
    assert "not a valid NPI" in reasons[2]
    assert "not in the drug catalog" in reasons[3]
    assert "more than refills_authorized" in reasons[4]
    assert "needs its hyphens" in reasons[5]
    assert result.created == 1
    assert "does not match quantity / daily_dose = 90.0" in result.warnings[0].reason


@pytest.mark.django_db
def test_an_import_audits_each_patient_it_touched(maple, catalog, files):
    _import(maple.organization, files)
    with scopes_disabled():
        events = AuditEvent.objects.filter(
            action__startswith="patients.", action__endswith=".imported"
        )
        by_action = {}
        for event in events:
            by_action.setdefault(event.action, []).append(event)
    assert len(by_action["patients.patients.imported"]) == 2
    fills = by_action["patients.fills.imported"]
    assert sorted(e.metadata["created"] for e in fills) == [1, 3]
    assert all(e.organization == maple.organization for e in events)


@pytest.mark.django_db
def test_an_import_into_one_org_never_reads_or_writes_another(maple, birch, catalog, files):
    _import(maple.organization, files)
    # Birch has no patient P001: its import of the same fills finds no prescriptions.
    result = _import(birch.organization, [files[0]])["fills"]
    assert result.created == 0 and result.rejected == 4
    with tenant_scope(birch.organization):
        assert not Fill.objects.exists()
    with tenant_scope(maple.organization):
        assert Fill.objects.count() == 4


@pytest.mark.django_db
def test_the_import_command_imports_and_is_idempotent(maple, catalog, files, tmp_path, capsys):
    paths = []
    for upload in files:
        path = tmp_path / upload.filename
        path.write_text(upload.text)
        paths.append(str(path))
    with time_machine.travel(TODAY, tick=False):
        call_command("import_records", "--org", "maple", *paths)
        first = capsys.readouterr().out
        call_command("import_records", "--org", "maple", *paths)
        second = capsys.readouterr().out
    assert (
        "Imported fills.csv (fills, 4 rows): 4 created, 0 updated, 0 unchanged, 0 rejected" in first
    )
    assert "0 created, 0 updated, 4 unchanged, 0 rejected" in second
    with tenant_scope(maple.organization):
        assert Fill.objects.count() == 4


@pytest.mark.django_db
def test_the_import_command_dry_run_writes_nothing(maple, catalog, files, tmp_path, capsys):
    path = tmp_path / "patients.csv"
    path.write_text(PATIENTS)
    call_command("import_records", "--org", "maple", "--dry-run", str(path))
    assert "Would import patients.csv" in capsys.readouterr().out
    with tenant_scope(maple.organization):
        assert not Patient.objects.exists()


@pytest.mark.django_db
def test_the_import_benchmark_runs_and_leaves_nothing_behind(capsys):
    from medsync.models import Organization

    call_command("bench_import", "--fills", "240")
    out = capsys.readouterr().out
    assert "import: 240 rows" in out and "created 240" in out
    assert "re-import: 240 rows" in out and "unchanged 240" in out
    assert "plain COPY of the same rows" in out and "ratio" in out
    assert not Organization.objects.filter(slug__startswith="bench-import").exists()


@pytest.mark.django_db
def test_the_sample_files_in_the_repository_import_cleanly(maple, capsys):
    """The README's sample files import into the demo pharmacy without a rejected row."""
    from pathlib import Path

    from patients.catalog import drug_catalog_load
    from tests.factories import PharmacyFactory

    drug_catalog_load()  # a transactional test before this one may have flushed the catalog
    PharmacyFactory(organization=maple.organization, ncpdp_id="5012345")  # the demo's Main St
    samples = sorted(
        str(p) for p in (Path(__file__).parents[2] / "patients" / "samples").glob("*.csv")
    )
    assert len(samples) == 5
    with time_machine.travel(TODAY, tick=False):
        call_command("import_records", "--org", "maple", *samples)
    out = capsys.readouterr().out
    assert out.count(" 0 rejected") == 5, out
    assert "created" in out
