"""Row-level security, the second tenant lock (issue 14, problem 4; README "Row-level security").

The suite itself connects as a superuser (pytest-django creates and drops the test
database), which bypasses row-level security. These tests open their own connections to the
test database as `medsync_app` (and `medsync_owner` / `medsync_platform`), or re-point
Django's default connection to `medsync_app`, so they need committed rows: a module fixture
seeds the demo organizations once and flushes them at the end.
"""

from __future__ import annotations

import io
import logging
import os
import time
from datetime import timedelta
from types import SimpleNamespace

import django_scopes
import psycopg2
import pytest
import time_machine
from celery import shared_task
from django.apps import apps
from django.core.management import call_command
from django.db import connections, router, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from medsync import rls
from medsync.jobs import TenantTask
from medsync.management.base import TenantCommand
from medsync.models import Organization, User
from medsync.selectors import memberships_of_user
from medsync.services import api_token_issue
from medsync.tenancy import TenantOwnedModel, scopes_disabled, tenant_scope

# Local clusters trust 127.0.0.1; a cluster that wants passwords gets these (bin/ensure-db-roles).
PASSWORDS = {
    rls.APP_ROLE: os.environ.get("MEDSYNC_APP_PASSWORD", "medsync-app-dev"),
    rls.OWNER_ROLE: os.environ.get("MEDSYNC_OWNER_PASSWORD", "medsync-owner-dev"),
    rls.PLATFORM_ROLE: os.environ.get("MEDSYNC_PLATFORM_PASSWORD", "medsync-platform-dev"),
}
ROLE_ATTRIBUTES = {
    rls.APP_ROLE: "LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT",
    rls.OWNER_ROLE: "LOGIN NOSUPERUSER BYPASSRLS",
    rls.PLATFORM_ROLE: "LOGIN NOSUPERUSER BYPASSRLS NOINHERIT",
}


def _ensure_roles() -> None:
    """The roles bin/ensure-db-roles makes, for a cluster where it never ran (a bare CI)."""
    with connections["default"].cursor() as cursor:
        for role, attributes in ROLE_ATTRIBUTES.items():
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                # Roles are cluster-wide: a parallel test worker may create it first.
                cursor.execute(
                    f"DO $$ BEGIN CREATE ROLE {role} {attributes} PASSWORD %s; "
                    "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
                    [PASSWORDS[role]],
                )
    rls.rls_apply()  # grants, now that the roles exist


def _connect(role: str):
    config = connections["default"].settings_dict
    connection = psycopg2.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        dbname=config["NAME"],
        user=role,
        password=PASSWORDS[role],
    )
    connection.autocommit = True
    return connection


def _superuser_counts(tables: list[str]) -> dict[str, dict[int, int]]:
    counts = {}
    with connections["default"].cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT organization_id, count(*) FROM {table} "  # noqa: S608 - catalog names
                "WHERE organization_id IS NOT NULL GROUP BY 1"
            )
            counts[table] = dict(cursor.fetchall())
    return counts


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker):
    """In this module: the test database, used in autocommit, without a flush per test.

    (Named like pytest-django's fixture so that its session setup creates the test database
    even when only these tests run; the rows come from `seeded`, flushed once at the end.)
    """
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Both demo organizations, committed; flushed (and the drug catalog put back) after."""
    with django_db_blocker.unblock():
        _ensure_roles()
        call_command("seed_demo", stdout=io.StringIO())
        _no_task_left_running()  # the counts below must be the rows as seeded, not as changing
        organizations = {o.slug: o for o in Organization.objects.all()}
        with connections["default"].cursor() as cursor:
            tables = rls.tenant_tables(cursor)
        counts = _superuser_counts(tables)
    yield {"organizations": organizations, "tables": tables, "counts": counts}
    with django_db_blocker.unblock():
        for alias in list(connections):
            connections[alias].close()
        call_command("flush", interactive=False, verbosity=0)
        from patients.catalog import drug_catalog_load

        drug_catalog_load()  # the flush empties the shared catalog the other tests read


def _no_task_left_running(timeout: float = 60) -> None:
    """Drop the jobs seed_demo queued and wait until no worker runs one.

    When the session's real worker is up (an earlier test started it), it would otherwise
    send the demo's texts and sweep its cycles while these tests compare row counts.
    """
    from medsync.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.control.purge()  # again each round: a running job may queue another
        inspector = app.control.inspect(timeout=1.0)
        busy = [
            task
            for found in (
                inspector.active() or {},
                inspector.reserved() or {},
                inspector.scheduled() or {},
            )
            for tasks in found.values()
            for task in tasks
        ]
        if not busy:
            app.control.purge()
            return
        time.sleep(0.2)
    raise AssertionError(f"A Celery worker was still running jobs after {timeout} s.")


@pytest.fixture
def app_connection(seeded, transactional_db):
    connection = _connect(rls.APP_ROLE)
    yield connection
    connection.close()


def _count(cursor, table: str, organization_id: int | None = None) -> int:
    cursor.execute("BEGIN")
    if organization_id is not None:
        cursor.execute("SELECT set_config('app.organization_id', %s, true)", [str(organization_id)])
    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - catalog names
    value = cursor.fetchone()[0]
    cursor.execute("COMMIT")
    return value


# -- the catalog -----------------------------------------------------------------------


def test_every_tenant_table_has_enable_force_and_the_policy(seeded, transactional_db):
    model_tables = {
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, TenantOwnedModel) and model._meta.managed
    }
    with connections["default"].cursor() as cursor:
        tables = set(rls.tenant_tables(cursor))
        missing = rls.tables_missing_rls(cursor)
    assert model_tables <= tables  # every TenantOwnedModel is caught by its column
    assert rls.AUDIT_TABLE in tables
    assert len(tables) >= 34
    assert missing == []


def test_the_catalog_check_reports_a_new_tenant_table_until_migrate_locks_it(
    seeded, transactional_db
):
    with connections["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_tenant_notes (id serial, organization_id bigint)")
        try:
            assert rls.tables_missing_rls(cursor) == ["scratch_tenant_notes"]
            # A policy alone is not enough: FORCE is what binds the table's owner.
            cursor.execute("ALTER TABLE scratch_tenant_notes ENABLE ROW LEVEL SECURITY")
            cursor.execute(
                "CREATE POLICY tenant_isolation ON scratch_tenant_notes USING (true) "
                "WITH CHECK (true)"
            )
            assert rls.tables_missing_rls(cursor) == ["scratch_tenant_notes"]
            cursor.execute("DROP POLICY tenant_isolation ON scratch_tenant_notes")
            assert rls.rls_apply() == ["scratch_tenant_notes"]  # what post_migrate runs
            assert rls.tables_missing_rls(cursor) == []
            assert rls.rls_apply() == []  # idempotent
        finally:
            cursor.execute("DROP TABLE scratch_tenant_notes")


def test_migrate_runs_the_policies_after_migrating(seeded, transactional_db):
    with connections["default"].cursor() as cursor:
        cursor.execute("ALTER TABLE patients_household NO FORCE ROW LEVEL SECURITY")
        assert rls.tables_missing_rls(cursor) == ["patients_household"]
        call_command("migrate", verbosity=0)
        assert rls.tables_missing_rls(cursor) == []


# -- the app role on its own connection --------------------------------------------------


def test_the_app_role_reads_no_row_of_any_tenant_table_without_the_setting(seeded, app_connection):
    populated = [t for t, by_org in seeded["counts"].items() if len(by_org) == 2]
    assert len(populated) >= 12  # the demo fills many tables for both organizations
    assert len([t for t, by_org in seeded["counts"].items() if by_org]) >= 25
    with app_connection.cursor() as cursor:
        seen = {table: _count(cursor, table) for table in seeded["tables"]}
        # An empty string (what a finished SET LOCAL leaves behind) is no tenant either.
        cursor.execute("SET app.organization_id = ''")
        seen_empty = {table: _count(cursor, table) for table in seeded["tables"]}
    # The audit log's organization-less sign-in events are the next test's subject.
    tenant_rows = {t: n for t, n in seen.items() if t != rls.AUDIT_TABLE}
    assert tenant_rows == dict.fromkeys(tenant_rows, 0)
    assert seen_empty == seen


def test_the_app_role_sees_organization_less_audit_events_only_without_a_tenant(
    seeded, app_connection
):
    maple = seeded["organizations"]["maple"].pk
    with app_connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT count(*) FROM medsync_auditevent WHERE organization_id IS NOT NULL")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT set_config('app.organization_id', %s, true)", [str(maple)])
        cursor.execute("SELECT count(*) FROM medsync_auditevent WHERE organization_id IS NULL")
        assert cursor.fetchone()[0] == 0
        cursor.execute("COMMIT")


def test_with_the_setting_the_app_role_reads_exactly_its_organizations_rows(seeded, app_connection):
    expected = seeded["counts"]
    with app_connection.cursor() as cursor:
        for slug in ("maple", "birch"):
            organization_id = seeded["organizations"][slug].pk
            seen = {t: _count(cursor, t, organization_id) for t in seeded["tables"]}
            assert seen == {t: expected[t].get(organization_id, 0) for t in seeded["tables"]}
    assert sum(expected["patients_patient"].values()) == 46


def test_an_insert_or_update_into_another_organization_is_refused(seeded, app_connection):
    maple = seeded["organizations"]["maple"].pk
    birch = seeded["organizations"]["birch"].pk
    with app_connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT set_config('app.organization_id', %s, true)", [str(maple)])
        cursor.execute("SAVEPOINT s")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
            cursor.execute(
                "INSERT INTO patients_household (organization_id, public_id, name, created_at)"
                " VALUES (%s, gen_random_uuid(), 'Planted', now())",
                [birch],
            )
        cursor.execute("ROLLBACK TO SAVEPOINT s")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
            cursor.execute("UPDATE patients_patient SET organization_id = %s", [birch])
        cursor.execute("ROLLBACK TO SAVEPOINT s")
        # And another organization's rows are not there to change or delete.
        cursor.execute(
            "UPDATE patients_patient SET last_name = 'X' WHERE organization_id = %s", [birch]
        )
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM patients_fill WHERE organization_id = %s", [birch])
        assert cursor.rowcount == 0
        cursor.execute("ROLLBACK")


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("ALTER TABLE patients_patient DISABLE ROW LEVEL SECURITY", "must be owner"),
        ("ALTER TABLE patients_patient NO FORCE ROW LEVEL SECURITY", "must be owner"),
        ("DROP POLICY tenant_isolation ON patients_patient", "must be owner"),
        ("ALTER TABLE medsync_auditevent DISABLE TRIGGER USER", "must be owner"),
        ("TRUNCATE medsync_auditevent", "permission denied"),
        ("TRUNCATE patients_patient", "permission denied"),
        ("SET ROLE medsync_owner", "permission denied"),
        ("SET ROLE medsync_platform", "permission denied"),
        ("SET ROLE postgres", "permission denied"),
        ("SET session_replication_role = replica", "permission denied"),
        ("CREATE TABLE planted (id int)", "permission denied"),
        (
            "INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())",
            "permission denied",
        ),
    ],
)
def test_the_app_role_cannot_lift_the_locks(seeded, app_connection, statement, message):
    with app_connection.cursor() as cursor, pytest.raises(psycopg2.Error, match=message):
        cursor.execute(statement)


def test_the_app_role_owns_nothing_and_cannot_bypass(seeded, app_connection):
    with app_connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False, False, False)
        cursor.execute("SELECT count(*) FROM pg_class WHERE relowner = 'medsync_app'::regrole")
        assert cursor.fetchone()[0] == 0


def test_the_audit_log_refuses_truncate_even_from_a_role_allowed_to(seeded, transactional_db):
    with connections["default"].cursor() as cursor:
        cursor.execute("GRANT SELECT, TRUNCATE, DELETE ON medsync_auditevent TO medsync_owner")
    owner = _connect(rls.OWNER_ROLE)
    try:
        with owner.cursor() as cursor:
            with pytest.raises(psycopg2.Error, match="append-only: TRUNCATE refused"):
                cursor.execute("TRUNCATE medsync_auditevent")
            with pytest.raises(psycopg2.Error, match="append-only: DELETE refused"):
                cursor.execute("DELETE FROM medsync_auditevent")
            cursor.execute("SELECT count(*) FROM medsync_auditevent")
            assert cursor.fetchone()[0] > 0
    finally:
        owner.close()
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "REVOKE SELECT, TRUNCATE, DELETE ON medsync_auditevent FROM medsync_owner"
            )


def test_the_app_role_without_a_platform_url_fails_the_system_check(monkeypatch):
    databases = {"default": {"USER": rls.APP_ROLE}}
    monkeypatch.setattr(rls, "settings", SimpleNamespace(DATABASES=databases))
    (error,) = rls.check_platform_alias()
    assert error.id == "medsync.E101"
    assert "DATABASE_PLATFORM_URL is not set" in error.msg
    databases[rls.PLATFORM_ALIAS] = {"USER": rls.PLATFORM_ROLE}
    assert rls.check_platform_alias() == []


def test_migrate_refuses_to_run_as_the_app_role(seeded, as_app_role):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="run it as the schema owner"):
        call_command("migrate", verbosity=0)


# -- Django itself connected as the app role ----------------------------------------------


@pytest.fixture
def as_app_role(seeded, transactional_db):
    """Re-point the default connection to medsync_app and add the platform alias."""
    default = connections["default"]
    original = dict(default.settings_dict)
    default.close()
    default.settings_dict.update(USER=rls.APP_ROLE, PASSWORD=PASSWORDS[rls.APP_ROLE])
    connections.settings[rls.PLATFORM_ALIAS] = {
        **original,
        "USER": rls.PLATFORM_ROLE,
        "PASSWORD": PASSWORDS[rls.PLATFORM_ROLE],
    }
    yield seeded
    default.close()
    default.settings_dict.clear()
    default.settings_dict.update(original)
    connections[rls.PLATFORM_ALIAS].close()
    del connections[rls.PLATFORM_ALIAS]
    del connections.settings[rls.PLATFORM_ALIAS]


def _raw_count(table: str) -> int:
    """A count with no filter at all, on the connection the ORM would use now."""
    with connections[router.db_for_read(Organization)].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - no tenant filter at all
        return cursor.fetchone()[0]


def test_django_on_the_app_role_sees_only_the_entered_tenant(as_app_role):
    maple, birch = as_app_role["organizations"]["maple"], as_app_role["organizations"]["birch"]
    patients = as_app_role["counts"]["patients_patient"]
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == rls.APP_ROLE
    assert _raw_count("patients_patient") == 0
    with tenant_scope(maple):
        assert _raw_count("patients_patient") == patients[maple.pk]
        with tenant_scope(birch):  # nested scopes restore the outer one
            assert _raw_count("patients_patient") == patients[birch.pk]
        assert _raw_count("patients_patient") == patients[maple.pk]
        with transaction.atomic():  # inside a transaction, savepoints and all
            assert _raw_count("patients_patient") == patients[maple.pk]
            with tenant_scope(birch), transaction.atomic():
                assert _raw_count("patients_patient") == patients[birch.pk]
            assert _raw_count("patients_patient") == patients[maple.pk]
    # Leaving the scope leaves nothing on the connection.
    assert _raw_count("patients_patient") == 0
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_setting('app.organization_id', true)")
        assert cursor.fetchone()[0] in (None, "")


def test_an_api_request_on_the_app_role_lists_only_its_tenant(as_app_role):
    birch = as_app_role["organizations"]["birch"]
    user = User.objects.get(email="pharmacist@birch.example")
    _, raw = api_token_issue(user=user)  # an org-less audit event, written with no tenant
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get("/api/v1/patients/?page_size=200")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == as_app_role["counts"]["patients_patient"][birch.pk] == 6
    assert {p["mrn"][:10] for p in response.json()["results"]} == {"DEMO-BIRCH"}


def test_the_named_escape_goes_through_the_platform_connection_and_is_logged(as_app_role, caplog):
    user = User.objects.get(email="floater@medsync.example")
    with caplog.at_level(logging.INFO, logger="medsync.platform"):
        memberships = memberships_of_user(user)
    assert sorted(m.organization.slug for m in memberships) == ["birch", "maple"]
    assert {m._state.db for m in memberships} == {rls.PLATFORM_ALIAS}
    assert "Cross-tenant access: medsync.selectors.memberships_of_user" in caplog.text
    # Objects read through the escape do not drag later queries onto it: with django-scopes
    # switched off by hand (not the named escape) the app role still sees nothing.
    (tech,) = memberships_of_user(User.objects.get(email="tech@maple.example"))
    assert tech._state.db == rls.PLATFORM_ALIAS
    with django_scopes.scopes_disabled():
        assert list(tech.pharmacies.all()) == []
    with tenant_scope(tech.organization):
        assert [p.ncpdp_id for p in tech.pharmacies.all()] == ["5012345"]
        assert (
            _raw_count("medsync_membership")
            == as_app_role["counts"]["medsync_membership"][tech.organization.pk]
        )
    with scopes_disabled("tests.escape"):
        assert _raw_count("patients_patient") == 46  # the platform role bypasses RLS


@shared_task(base=TenantTask, name="tests.security.count_patients")
def count_patients(*, organization_id: str) -> list[int]:
    from patients.models import Patient

    return [Patient.objects.count(), _raw_count("patients_patient")]


def test_a_task_body_on_the_app_role_reads_only_its_tenant(as_app_role):
    for slug in ("maple", "birch"):
        organization = as_app_role["organizations"][slug]
        expected = as_app_role["counts"]["patients_patient"][organization.pk]
        result = count_patients.apply(kwargs={"organization_id": str(organization.public_id)})
        assert result.get() == [expected, expected]


class CountCommand(TenantCommand):
    def handle_in_tenant(self, organization, *args, **options):
        return str(_raw_count("patients_fill"))


def test_a_tenant_command_on_the_app_role_reads_only_its_tenant(as_app_role):
    for slug in ("maple", "birch"):
        organization = as_app_role["organizations"][slug]
        expected = as_app_role["counts"]["patients_fill"][organization.pk]
        assert CountCommand().handle(org=slug) == str(expected)


def test_the_cycle_sweep_runs_on_the_app_role(as_app_role):
    from scheduling.tasks import ensure_cycles

    maple = as_app_role["organizations"]["maple"]
    with time_machine.travel(timezone.now() + timedelta(days=200)):
        result = ensure_cycles.apply(kwargs={"organization_id": str(maple.public_id)})
    assert result.successful(), result.result
    # The items went in through the app role (row-level security on; COPY FROM would be refused).
    assert result.result["cycles"] > 0 and result.result["items"] >= result.result["cycles"]
