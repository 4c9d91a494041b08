"""Imports that cannot hurt: every bad input is a clear, line-numbered rejection that keeps
the good rows, and an import whose worker stopped is queued again (or fails) cleanly."""

import codecs
import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients import services
from patients.imports import ImportFileInput, run_import
from patients.models import Fill, ImportBatch, ImportStatus, Patient
from tests.factories import DrugFactory, PatientFactory, PrescriptionFactory

pytestmark = pytest.mark.django_db
TODAY = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
HEADER = "rx_number,fill_date,quantity,days_supply,fill_number,patient_pay,pharmacy_ncpdp"


@pytest.fixture
def rx(maple):
    """Two prescriptions at Maple Main St, written before every fill below."""
    pharmacy = maple.pharmacies[0]
    with tenant_scope(maple.organization):
        drug = DrugFactory(ndc="00093715598")
        patient = PatientFactory(organization=maple.organization, mrn="M1")
        for number in ("1000001", "1000002"):
            PrescriptionFactory(
                organization=maple.organization,
                patient=patient,
                pharmacy=pharmacy,
                drug=drug,
                rx_number=number,
                written_date=dt.date(2026, 1, 5),
                expiration_date=dt.date(2027, 1, 5),
            )
    return pharmacy.ncpdp_id


def fills(organization, text, apply=True):
    with time_machine.travel(TODAY, tick=False), tenant_scope(organization):
        [result] = run_import(organization, [ImportFileInput("fills.csv", text)], apply=apply)
    return result


def stored_days(organization):
    with tenant_scope(organization):
        return sorted(Fill.objects.values_list("fill_date", flat=True))


def reasons(result):
    return {p.line: p.reason for p in result.errors}


def test_a_value_beyond_its_columns_precision_is_refused_at_preview_and_the_rest_import(maple, rx):
    text = "\n".join(
        [
            HEADER,
            f"1000001,2026-09-01,30,30,1,10.00,{rx}",
            f"1000001,2026-10-01,99999999999,30,2,10.00,{rx}",  # numeric(10,3): 7 digits
            f"1000001,2026-10-02,30.1234,30,2,10.00,{rx}",  # 3 decimal places
            f"1000001,2026-10-03,30,99999999999,2,10.00,{rx}",  # a PostgreSQL integer
            f"1000001,2026-10-04,30,30,2,1000000.00,{rx}",  # numeric(8,2)
            f"1000001,2026-10-05,1e400,30,2,10.00,{rx}",  # no rounding of a huge number
            f"1000002,2026-10-06,30,30,2,10.00,{rx}",
        ]
    )
    preview = fills(maple.organization, text, apply=False)
    found = reasons(preview)
    assert set(found) == {3, 4, 5, 6, 7}
    assert (
        found[3]
        == "quantity 99999999999 is too large for its column (at most 7 digits before the point)."
    )
    assert found[4] == "quantity 30.1234 has more than 3 decimal places."
    assert found[5] == "days_supply '99999999999' is too large (at most 2147483647)."
    assert "patient_pay 1000000.00 is too large for its column" in found[6]
    assert "quantity '1e400' is too large" in found[7]
    assert preview.created == 2
    applied = fills(maple.organization, text)
    assert (applied.created, applied.rejected) == (2, 5)
    assert stored_days(maple.organization) == [dt.date(2026, 9, 1), dt.date(2026, 10, 6)]


def test_an_oversized_field_is_one_rejected_line_and_the_next_lines_import(maple, rx):
    huge = "x" * 140_000
    text = f"{HEADER}\n1000001,2026-09-01,30,30,1,{huge},{rx}\n1000001,2026-10-01,30,30,2,1,{rx}\n"
    result = fills(maple.organization, text)
    assert reasons(result) == {
        2: "a value is longer than 131,072 characters (is a quote left open?); "
        "the line was skipped."
    }
    assert result.created == 1
    assert stored_days(maple.organization) == [dt.date(2026, 10, 1)]


def test_bad_quoting_is_rejected_by_line(maple, rx):
    text = (
        f'{HEADER}\n1000001,2026-09-01,"30"x,30,1,1,{rx}\n'
        f"1000001,2026-10-01,30,30,2,1,{rx}\n"
        f'1000002,2026-10-02,30,30,2,"1,{rx}\n'
        f"1000002,2026-10-03,30,30,2,1,{rx}\n"
    )
    result = fills(maple.organization, text)
    found = reasons(result)
    assert "text after its closing quote" in found[2]
    assert found[4] == "a quote opened on line 4 is never closed, so the rest of the file is lost."
    assert result.created == 1
    assert stored_days(maple.organization) == [dt.date(2026, 10, 1)]


def test_excel_semicolons_a_bom_and_crlf_lines_are_read(maple, rx):
    text = "\ufeff" + HEADER.replace(",", ";") + "\r\n"
    text += f"1000001;2026-09-01;30;30;1;10.00;{rx}\r\n1000002;2026-09-02;30,5;30;1;1;{rx}\r\n"
    result = fills(maple.organization, text)
    assert reasons(result) == {3: "quantity '30,5' is not a number."}
    assert result.created == 1


def test_a_row_with_extra_values_or_a_nul_is_rejected_by_line(maple, rx):
    text = (
        f"{HEADER}\n1000001,2026-09-01,30,30,1,1,{rx},surplus\n"
        f"1000001,2026-09-02,30,30,1,1\x00,{rx}\n1000001,2026-09-03,30,30,1,1,{rx}\n"
    )
    result = fills(maple.organization, text)
    assert reasons(result) == {
        2: "the row has more values than the header has columns.",
        3: "the line holds a NUL character (is this a text file?).",
    }
    assert result.created == 1


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("mrn,first_name\nA,Zoë\n".encode("cp1252"), "mrn,first_name\nA,Zoë\n"),
        (codecs.BOM_UTF8 + "mrn,first_name\nA,Zoë\n".encode(), "mrn,first_name\nA,Zoë\n"),
        ("mrn,first_name\nA,Zoë\n".encode("utf-16"), "mrn,first_name\nA,Zoë\n"),
    ],
)
def test_uploads_in_windows_utf8_with_bom_or_utf16_decode(data, text):
    assert services.decode_upload("p.csv", data) == text


def test_a_binary_or_unmarked_utf16_upload_is_refused_whole():
    for data in ("mrn,first_name\n".encode("utf-16-le"), b"PK\x03\x04\x00\x00spreadsheet"):
        with pytest.raises(ValidationError) as problem:
            services.decode_upload("p.csv", data)
        assert "p.csv is not a CSV text file" in problem.value.message_dict["files"][0]


def test_an_empty_upload_is_refused_with_its_name(maple):
    with tenant_scope(maple.organization), pytest.raises(ValidationError) as problem:
        services.import_batch_create(files=[("empty.csv", "")], source="api", actor=None)
    assert "empty.csv: The file is empty" in problem.value.message_dict["files"][0]


# --- The claim and the recovery sweep ----------------------------------------------------------


def confirmed_batch(tenant, text, minutes_ago=30):
    """A previewed batch someone confirmed `minutes_ago` (its worker never finished)."""
    with tenant_scope(tenant.organization):
        batch = services.import_batch_create(
            files=[("patients.csv", text)], source="api", actor=tenant.pharmacist
        )
        services.import_batch_preview(batch=batch)
        ImportBatch.objects.filter(pk=batch.pk).update(
            apply_requested_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
        )
    return batch


PATIENTS = "mrn,first_name,last_name,date_of_birth,phone\nA1,Ada,Lovelace,1950-12-10,6085550101\n"


def test_the_sweep_queues_a_stale_confirmed_import_again_once(maple):
    batch = confirmed_batch(maple, PATIENTS)
    fresh = confirmed_batch(maple, PATIENTS.replace("A1", "A2"), minutes_ago=1)
    with tenant_scope(maple.organization):
        assert services.import_batches_recover() == 1
        assert services.import_batches_recover() == 0  # run twice = once
        batch.refresh_from_db()
        assert (batch.status, batch.recoveries) == (ImportStatus.PREVIEWED, 1)
        assert batch.apply_requested_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        assert ImportBatch.objects.get(pk=fresh.pk).recoveries == 0
        assert AuditEvent.objects.filter(action="patients.import.recovered").count() == 1
        # The worker it was queued for applies it, exactly once.
        services.import_batch_apply(batch=batch, actor=None)
        assert services.import_batch_apply(batch=batch, actor=None) is None
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["A1"]


def test_an_applying_batch_left_by_an_older_release_is_recovered(maple):
    batch = confirmed_batch(maple, PATIENTS)
    with tenant_scope(maple.organization):
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.APPLYING)
        assert services.import_batches_recover() == 1
        batch.refresh_from_db()
        assert batch.status == ImportStatus.PREVIEWED
        services.import_batch_apply(batch=batch, actor=None)
        assert ImportBatch.objects.get(pk=batch.pk).status == ImportStatus.APPLIED


def test_an_import_stopped_too_often_fails_cleanly_with_nothing_written(maple):
    batch = confirmed_batch(maple, PATIENTS)
    with tenant_scope(maple.organization):
        ImportBatch.objects.filter(pk=batch.pk).update(recoveries=services.IMPORT_MAX_RECOVERIES)
        assert services.import_batches_recover() == 1
        batch.refresh_from_db()
        assert batch.status == ImportStatus.FAILED
        assert "nothing was imported" in batch.failure_message
        assert not batch.in_progress
        assert not Patient.objects.exists()
        assert services.import_batch_apply(batch=batch, actor=None) is None


def test_the_sweep_of_birch_never_touches_maples_imports(maple, birch):
    batch = confirmed_batch(maple, PATIENTS)
    with tenant_scope(birch.organization):
        assert services.import_batches_recover() == 0
    with scopes_disabled():
        assert ImportBatch.objects.get(pk=batch.pk).recoveries == 0


def test_prescription_and_coverage_values_are_checked_against_their_columns(maple, rx):
    header = (
        "rx_number,mrn,ndc,sig,daily_dose,quantity,days_supply,refills_authorized,"
        "written_date,pharmacy_ncpdp"
    )
    text = "\n".join(
        [
            header,
            f"2000001,M1,00093715598,daily,1,30,30,1,2026-01-05,{rx}",
            f"2000002,M1,00093715598,daily,1,99999999999,30,1,2026-01-05,{rx}",
            f"2000003,M1,00093715598,daily,0.00001,30,30,1,2026-01-05,{rx}",
            f"2000004,M1,00093715598,daily,1,9999999,30,999999,2026-01-05,{rx}",
        ]
    )
    with time_machine.travel(TODAY, tick=False), tenant_scope(maple.organization):
        [result] = run_import(
            maple.organization, [ImportFileInput("rx.csv", text + "\n")], apply=True
        )
        found = reasons(result)
        assert set(found) == {3, 4, 5}
        assert found[3].startswith("quantity 99999999999 is too large for its column")
        assert found[4] == "daily_dose 0.00001 has more than 4 decimal places."
        assert found[5].startswith("quantity x (refills_authorized + 1) 9999999")
        assert result.created == 1
        coverage = (
            "mrn,payer_name,plan_type,copay_amount,bin,effective_from\n"
            "M1,Acme,commercial,10,610014,2026-01-01\n"
            "M1,Big,commercial,1234567,004336,2026-01-01\n"
        )
        [result] = run_import(maple.organization, [ImportFileInput("c.csv", coverage)], apply=True)
        assert reasons(result) == {
            3: "copay_amount 1234567.00 is too large for its column (at most 6 digits before "
            "the point)."
        }
        assert result.created == 1
