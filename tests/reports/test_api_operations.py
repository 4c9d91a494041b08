"""/api/v1/reports/...: the same figures as the pages; another tenant's pharmacy is a 404;
a member limited to one pharmacy gets only its figures; bad input is a 400 naming the field."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
import time_machine

from billing.service_claim_services import clinical_service_document
from medsync.tenancy import tenant_scope
from tests.reports.scenario import NOW, build_program, limited_pharmacist
from tests.reports.test_today import numbers

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(maple, birch):
    return build_program(maple, birch)


def test_today_counts_equal_the_page(client, maple, program, login, api_client_for):
    api = api_client_for(maple.pharmacist)
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        body = api.get("/api/v1/reports/today/").json()
        page = numbers(client.get("/today/").content.decode())
        html = client.get("/today/").content.decode()
    assert body["counts"] == page
    for day in body["calendar"]:
        match = re.search(
            rf'data-day="{day["date"]}" data-patients="(\d+)" data-fills="(\d+)"', html
        )
        assert (int(match.group(1)), int(match.group(2))) == (day["patients"], day["fills"])


def test_workload_and_forecast_equal_their_pages(client, maple, program, login, api_client_for):
    api = api_client_for(maple.pharmacist)
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        workload = api.get("/api/v1/reports/workload/").json()
        workload_csv = client.get("/reports/workload/?format=csv").content.decode()
        forecast = api.get("/api/v1/reports/forecast/").json()
        forecast_csv = client.get("/reports/forecast/?format=csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(workload_csv)))
    assert [(r["date"], int(r["fills"]), r["technician_hours"]) for r in rows] == [
        (d["date"], d["fills"], d["technician_hours"]) for d in workload
    ]
    page_due = {
        (r["ndc"], r["date"]): Decimal(r["due"]) for r in csv.DictReader(io.StringIO(forecast_csv))
    }
    api_due = {(f["ndc"], d["date"]): Decimal(d["due"]) for f in forecast for d in f["days"]}
    assert page_due == api_due and any(api_due.values())


def test_program_and_money_equal_their_pages(client, maple, program, login, api_client_for):
    api = api_client_for(maple.owner)
    login(maple.owner)
    with tenant_scope(maple.organization):
        for kind in ("cmr", "bp_check", "bp_check"):
            clinical_service_document(
                patient=program.main[0].patient,
                pharmacy=maple.pharmacies[0],
                kind=kind,
                pharmacist=maple.pharmacist,
                started_at=NOW - dt.timedelta(days=3),
                ended_at=NOW - dt.timedelta(days=3, minutes=-20),
                actor=maple.pharmacist,
            )
    with time_machine.travel(NOW, tick=False):
        body = api.get("/api/v1/reports/program/?start=2026-01-01&end=2026-03-10").json()
        page = client.get("/reports/program/?start=2026-01-01&end=2026-03-10").content.decode()
        services = client.get("/reports/program/services/?start=2026-01-01&end=2026-03-10")
        money = api.get("/api/v1/reports/money/").json()
        money_csv = client.get("/reports/money/?format=csv").content.decode()
    shown = re.findall(r'data-kind="(\w+)">[^<]* (\d+)</span>', services.content.decode())
    assert {k: int(n) for k, n in shown} == {"cmr": 1, "bp_check": 2}
    assert {s["key"]: s["value"] for s in body["clinical_services"]} == {"cmr": 1, "bp_check": 2}
    for row in body["funnel"]:
        shown = re.search(
            rf'data-testid="funnel-{row["key"]}"><td>[^<]*</td><td class="count">(\d+)', page
        )
        assert int(shown.group(1)) == row["value"]
    months = list(csv.DictReader(io.StringIO(money_csv)))
    assert [(m["month"], int(m["prescriptions"])) for m in months] == [
        (m["month"], m["prescriptions"]) for m in money["months"]
    ]


def test_another_tenants_pharmacy_is_a_404_and_birch_gets_only_its_rows(
    maple, birch, program, api_client_for
):
    api = api_client_for(birch.pharmacist)
    with time_machine.travel(NOW, tick=False):
        for path in ("today", "workload", "forecast", "program", "money", "opportunities"):
            url = f"/api/v1/reports/{path}/?pharmacy={maple.pharmacies[0].public_id}"
            assert api.get(url).status_code == 404, path
        counts = api.get("/api/v1/reports/today/").json()["counts"]
    assert counts["anchors_week"] == 1 and counts["flagged"] == 3 and counts["unread"] == 0


def test_a_member_limited_to_one_pharmacy_gets_its_figures(maple, program, api_client_for):
    elm = maple.pharmacies[1]
    api = api_client_for(limited_pharmacist(maple, elm))
    with time_machine.travel(NOW, tick=False):
        counts = api.get("/api/v1/reports/today/").json()["counts"]
        elm_only = api_client_for(maple.pharmacist).get(
            f"/api/v1/reports/today/?pharmacy={elm.public_id}"
        )
        hidden = api.get(f"/api/v1/reports/today/?pharmacy={maple.pharmacies[0].public_id}")
    assert counts == elm_only.json()["counts"] and hidden.status_code == 404


def test_bad_dates_are_a_400_naming_the_field(maple, program, api_client_for):
    api = api_client_for(maple.pharmacist)
    response = api.get("/api/v1/reports/program/?start=2026-02-30")
    assert response.status_code == 400 and "start" in str(response.json())
    response = api.get("/api/v1/reports/money/?start=2026-03-05&end=2026-03-01")
    assert response.status_code == 400 and "start" in str(response.json())


def test_a_technician_token_cannot_read_reports(maple, program, api_client_for):
    api = api_client_for(maple.technician)
    assert api.get("/api/v1/reports/program/").status_code == 403
