"""Issue 14, problems 5 (statement timeout), 7 (uploads) and 8 (CSV formulas, open
redirects, permission maps, date ranges): bounded inputs, fail-closed rules."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connections
from rest_framework.test import APIRequestFactory

from medsync.api.permissions import RoleAllows
from medsync.csv_export import csv_safe, csv_writer
from medsync.roles import Perm
from medsync.tenancy import tenant_scope
from patients import services as patient_services
from patients.models import ImportBatch
from tests.factories import PatientFactory
from tests.reports.test_eligibility import TODAY, population  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

PATIENTS_CSV = b"mrn,first_name,last_name,date_of_birth,phone\n1,Ann,Lee,1950-01-02,6085550101\n"


def _csv(name="patients.csv", body=PATIENTS_CSV):
    return SimpleUploadedFile(name, body, content_type="text/csv")


def _batches(tenant) -> int:
    with tenant_scope(tenant.organization):
        return ImportBatch.objects.count()


# --- statement_timeout ------------------------------------------------------------------


@pytest.fixture
def web_connection():
    """A new database connection opened the way a web process opens one (medsync/wsgi.py
    installs the limits on import, as gunicorn and runserver load it)."""
    from medsync.web_limits import install_web_limits, uninstall_web_limits

    install_web_limits()
    fresh = connections.create_connection("default")
    try:
        fresh.ensure_connection()
        yield fresh
    finally:
        fresh.close()
        uninstall_web_limits()


def _show_timeout(conn) -> str:
    with conn.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_web_connections_run_under_a_statement_timeout(web_connection, settings):
    assert settings.WEB_STATEMENT_TIMEOUT_SECONDS == 15
    assert _show_timeout(web_connection) == "15s"
    with (
        pytest.raises(OperationalError, match="statement timeout"),
        web_connection.cursor() as cursor,
    ):
        cursor.execute("SET statement_timeout = 200")  # the same limit, shortened for the test
        cursor.execute("SELECT pg_sleep(1)")


def test_the_wsgi_entry_point_installs_the_limit():
    from django.db.backends.signals import connection_created

    import medsync.wsgi  # noqa: F401 - what gunicorn and runserver load
    from medsync.web_limits import uninstall_web_limits

    try:
        keys = [receiver[0][0] for receiver in connection_created.receivers]
        assert "medsync.web_statement_timeout" in keys
    finally:
        uninstall_web_limits()


def test_jobs_and_commands_keep_the_server_default():
    from django.db import connection

    assert _show_timeout(connection) == "0"


# --- Uploads --------------------------------------------------------------------------------


def test_an_upload_of_too_many_files_is_refused_naming_the_limit(api_client_for, maple, settings):
    assert settings.UPLOAD_MAX_FILES == 10
    api = api_client_for(maple.pharmacist)
    files = [_csv(f"patients{n}.csv") for n in range(11)]
    response = api.post("/api/v1/imports/", {"files": files}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_files"
    assert "at most 10 files" in response.json()["error"]["message"]
    assert _batches(maple) == 0


def test_ten_files_are_still_accepted(api_client_for, maple):
    api = api_client_for(maple.pharmacist)
    files = [_csv(f"patients{n}.csv") for n in range(10)]
    response = api.post("/api/v1/imports/", {"files": files}, format="multipart")
    assert response.status_code == 201, response.json()
    assert _batches(maple) == 1


class _MustNotBeRead(io.BytesIO):
    def read(self, *args, **kwargs):
        raise AssertionError("the body was read before its declared size was checked")

    readline = read


def test_an_upload_declared_over_the_limit_is_refused_before_reading(client, maple, login):
    login(maple.pharmacist)
    response = client.generic(
        "POST",
        "/patients/import/",
        b"--xyz--\r\n",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(60 * 1024 * 1024),
        **{"wsgi.input": _MustNotBeRead()},
    )
    assert response.status_code == 413
    assert "at most 50 MB in all" in response.content.decode()
    assert _batches(maple) == 0


def test_an_api_upload_over_the_total_is_a_413_in_the_error_shape(api_client_for, maple, settings):
    settings.UPLOAD_MAX_BYTES = 100 * 1024
    api = api_client_for(maple.pharmacist)
    big = _csv(body=PATIENTS_CSV + b"x" * (200 * 1024))
    response = api.post("/api/v1/imports/", {"files": [big]}, format="multipart")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"
    assert _batches(maple) == 0


def test_sizes_are_checked_before_any_file_is_read(settings):
    settings.UPLOAD_MAX_BYTES = 1000

    class Unread(SimpleUploadedFile):
        def read(self, *args):
            raise AssertionError("read before the size check")

    files = [Unread("a.csv", b"x" * 600), Unread("b.csv", b"x" * 600)]
    with pytest.raises(ValidationError) as refused:
        patient_services.read_uploads(files)
    assert refused.value.message_dict == {"files": ["The files together are larger than 0 MB."]}


# --- CSV exports ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+15555550100", "'+15555550100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Lee", "Lee"),
        (7, 7),
        (-7, -7),
        (None, None),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_quoted(cell, written):
    assert csv_safe(cell) == written


def test_the_eligibility_export_escapes_formulas_in_names_and_mrns(
    client,
    maple,
    population,  # noqa: F811 - the fixture imported above
    login,
):
    with tenant_scope(maple.organization):
        late = population["late"]
        late.last_name = '=HYPERLINK("http://evil.example","Click")'
        late.mrn = "@SUM(1+1)"
        late.save()
    login(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/reports/eligibility.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, body = rows[0], rows[1:]
    row = next(r for r in body if "HYPERLINK" in r[0])
    assert row[0] == '\'=HYPERLINK("http://evil.example","Click")'
    assert row[header.index("mrn")] == "'@SUM(1+1)"


def test_no_csv_is_written_without_the_escaping_writer():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for app in ("medsync", "patients", "billing", "messaging", "scheduling", "reports")
        for path in (root / app).rglob("*.py")
        if ("csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text())
        and path.name != "csv_export.py"
    ]
    assert offenders == []
    out = io.StringIO()
    csv_writer(out).writerow(["=1", "a"])
    assert out.getvalue() == "'=1,a\r\n"


# --- Open redirects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://testserver.evil.example/",
    ],
)
def test_next_never_leaves_the_site(target):
    from django.test import RequestFactory

    from scheduling.views.common import back

    posted = RequestFactory().post("/fill-queue/items/x/verify/", {"next": target})
    assert back(posted, "fill-queue")["Location"] == "/fill-queue/"
    referred = RequestFactory().post("/x/", HTTP_REFERER=target)
    assert back(referred, "sync-tasks")["Location"] == "/sync/tasks/"


def test_a_local_next_is_followed():
    from django.test import RequestFactory

    from scheduling.views.common import back

    posted = RequestFactory().post("/x/", {"next": "/fill-queue/?day=2026-03-03"})
    assert back(posted, "sync-tasks")["Location"] == "/fill-queue/?day=2026-03-03"


# --- API permission maps --------------------------------------------------------------------


class _View:
    required_permission = {"list": Perm.VIEW_PATIENTS}

    def __init__(self, action):
        self.action = action


def _request(maple, user, role_membership):
    request = APIRequestFactory().get("/api/v1/x/")
    request.user = user
    request.membership = role_membership
    return request


def test_an_action_the_permission_map_does_not_list_is_refused(maple):
    from medsync.models import Membership

    with tenant_scope(maple.organization):
        owner = Membership.objects.get(user=maple.owner)
    request = _request(maple, maple.owner, owner)
    assert RoleAllows().has_permission(request, _View("list")) is True
    assert RoleAllows().has_permission(request, _View("destroy")) is False
    assert RoleAllows().has_permission(request, _View("metadata")) is False


def test_a_view_that_declares_no_permission_is_refused(maple):
    from medsync.models import Membership

    class Undeclared:
        action = "list"

    with tenant_scope(maple.organization):
        owner = Membership.objects.get(user=maple.owner)
    assert RoleAllows().has_permission(_request(maple, maple.owner, owner), Undeclared()) is False


def test_every_api_route_declares_its_permission():
    from django.urls import get_resolver

    from medsync.api.permissions import RoleAllows as Default

    missing = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            view = getattr(pattern.callback, "cls", None)
            route = prefix + str(pattern.pattern)
            if view is None or not route.startswith("api/"):
                continue
            checks = getattr(view, "permission_classes", [])
            declared = hasattr(view, "required_permission") or "get_permissions" in vars(view)
            if Default in checks and not declared:
                missing.append(route)

    walk(get_resolver().url_patterns)
    assert missing == []


def test_an_unlisted_action_is_a_403_over_http(api_client_for, maple):
    api = api_client_for(maple.owner)
    response = api.options("/api/v1/enrollments/")
    assert response.status_code == 403


# --- Date parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "1899-12-31"])
def test_an_out_of_range_period_end_is_a_400_naming_the_field(api_client_for, maple, value):
    with tenant_scope(maple.organization):
        patient = PatientFactory(organization=maple.organization, home_pharmacy=maple.pharmacies[0])
    api = api_client_for(maple.pharmacist)
    response = api.get(f"/api/v1/patients/{patient.public_id}/adherence/?period_end={value}")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"period_end"}


@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/v1/fills/?since=", "since"), ("/api/v1/cycles/?anchor_date=", "anchor_date")],
)
@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
def test_out_of_range_list_filters_are_a_400_naming_the_filter(
    api_client_for, maple, path, name, value
):
    response = api_client_for(maple.pharmacist).get(path + value)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {name}


def test_list_filters_in_range_still_work(api_client_for, maple):
    api = api_client_for(maple.pharmacist)
    assert api.get("/api/v1/fills/?since=2026-01-01").status_code == 200
    assert api.get("/api/v1/cycles/?anchor_date=2026-03-05").status_code == 200


def test_a_period_end_in_range_still_works(api_client_for, maple):
    with tenant_scope(maple.organization):
        patient = PatientFactory(organization=maple.organization, home_pharmacy=maple.pharmacies[0])
    api = api_client_for(maple.pharmacist)
    response = api.get(f"/api/v1/patients/{patient.public_id}/adherence/?period_end=2026-01-31")
    assert response.status_code == 200
    assert response.json()["period_end"] == "2026-01-31"


def test_the_import_page_states_the_limits(client, maple, login):
    login(maple.pharmacist)
    page = client.get("/patients/import/").content.decode()
    assert "up to 10 files, 50 MB in all" in page
