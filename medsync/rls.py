"""PostgreSQL row-level security: the second tenant lock (README "Row-level security").

django-scopes is the first lock: a tenant-owned query without a tenant raises in Python.
This module is the second, in the database, for when the first has a hole (a raw query, a
forgotten filter, an injection):

- every table with an `organization_id` column gets ENABLE and FORCE ROW LEVEL SECURITY and
  the policy `tenant_isolation`: a row is visible and writable only while the transaction's
  `app.organization_id` names its organization (no setting: no rows). `rls_apply` does it
  after every `migrate` (post_migrate), so a new tenant table gets its policy on the next
  migrate, and grants the app and platform roles what they need;
- the app connects as `medsync_app` (owns nothing, no BYPASSRLS); `tenant_setting_wrapper`
  prefixes each statement run inside `tenant_scope` with a transaction-local
  `set_config('app.organization_id', ..., true)` (the `SET LOCAL` the issue asks for, safe
  behind a transaction-pooling proxy: nothing outlives the transaction);
- the named cross-tenant escapes (`medsync.tenancy.scopes_disabled`) are routed by
  `PlatformRouter` to the `platform` database alias, a BYPASSRLS role, when it is configured.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from medsync.tenancy import active_organization, platform_escape_active

TENANT_SETTING = "app.organization_id"
OWNER_ROLE = "medsync_owner"
APP_ROLE = "medsync_app"
PLATFORM_ROLE = "medsync_platform"
PLATFORM_ALIAS = "platform"
POLICY = "tenant_isolation"
TENANT_COLUMN = "organization_id"
AUDIT_TABLE = "medsync_auditevent"

_SETTING_VALUE = f"NULLIF(current_setting('{TENANT_SETTING}', true), '')::bigint"
# Indexable equality for tenant tables (organization_id is NOT NULL there).
TENANT_PREDICATE = f"{TENANT_COLUMN} = {_SETTING_VALUE}"
# The audit log also holds user-level events written before a tenant is chosen (sign-in,
# sign-out, failed sign-in, MFA): those have no organization and are visible only while no
# tenant is set; a tenant's connection sees its own events and nothing else.
AUDIT_PREDICATE = f"{TENANT_COLUMN} IS NOT DISTINCT FROM {_SETTING_VALUE}"

# Transaction control cannot carry a prefix (a ROLLBACK TO in an aborted transaction
# must be the first statement it sees).
_CONTROL = re.compile(
    r"^\s*(SAVEPOINT|RELEASE|ROLLBACK|COMMIT|BEGIN|START\s+TRANSACTION|END|ABORT)\b", re.I
)


# -- the setting on the connection -------------------------------------------------------


def _set_config_sql(organization_id: int) -> str:
    # The id is our own integer primary key, never request data: inlined, no `%` in it.
    return f"SELECT set_config('{TENANT_SETTING}', '{int(organization_id)}', true); "


def tenant_setting_wrapper(execute, sql, params, many, context):
    """Run `sql` with `app.organization_id` set for its transaction (a Django execute wrapper).

    In autocommit each statement is its own transaction, and the prefix travels in the same
    simple-query message, so it applies to that statement alone; inside `atomic` it is
    repeated before every statement, which keeps nested scopes (and savepoint rollbacks)
    right. Outside `tenant_scope` nothing is added: the setting is empty and tenant tables
    show no rows.
    """
    organization = active_organization()
    if organization is None or not isinstance(sql, (str, bytes)):
        return execute(sql, params, many, context)  # no setting: tenant tables show nothing
    text = sql.decode() if isinstance(sql, bytes) else sql
    if _CONTROL.match(text):
        return execute(sql, params, many, context)
    raw_cursor = getattr(context["cursor"], "cursor", None)
    if getattr(raw_cursor, "name", None):
        return _execute_server_side(execute, sql, params, many, context, organization.pk)
    prefix = _set_config_sql(organization.pk)
    if isinstance(sql, bytes):
        return execute(prefix.encode() + sql, params, many, context)
    return execute(prefix + text, params, many, context)


def _execute_server_side(execute, sql, params, many, context, organization_id):
    """A named (server-side) cursor wraps `sql` in DECLARE, which takes no prefix."""
    wrapper = context["connection"]
    local = not wrapper.get_autocommit()
    with wrapper.connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, %s)", [TENANT_SETTING, str(organization_id), local]
        )
    try:
        return execute(sql, params, many, context)
    finally:
        if not local:
            # A WITH HOLD cursor in autocommit ran its query at DECLARE; clear it right away.
            with wrapper.connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', false)", [TENANT_SETTING])


def install_tenant_setting(sender, connection, **kwargs) -> None:
    """connection_created receiver: every PostgreSQL connection carries the wrapper once."""
    if connection.vendor == "postgresql" and tenant_setting_wrapper not in (
        connection.execute_wrappers
    ):
        connection.execute_wrappers.insert(0, tenant_setting_wrapper)


# -- the platform path -------------------------------------------------------------------


class PlatformRouter:
    """Inside a named escape (`medsync.tenancy.scopes_disabled`) queries go to the
    `platform` alias (a BYPASSRLS role) when it is configured; everything else to
    `default`. Always an explicit answer: an object read through the platform alias must
    not pull its related rows through it later (Django would follow the instance's db).
    """

    def _alias(self) -> str:
        if platform_escape_active() and PLATFORM_ALIAS in settings.DATABASES:
            return PLATFORM_ALIAS
        return "default"

    def db_for_read(self, model, **hints):
        return self._alias()

    def db_for_write(self, model, **hints):
        return self._alias()

    def allow_relation(self, obj1, obj2, **hints):
        # One database reached as two roles.
        return {obj1._state.db, obj2._state.db} <= {"default", PLATFORM_ALIAS, None}

    def allow_migrate(self, db, app_label, **hints):
        return False if db == PLATFORM_ALIAS else None


def check_platform_alias(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """On the app role, the named escapes need DATABASE_PLATFORM_URL (else nobody can log in:
    the membership lookup at login would see no rows)."""
    if PLATFORM_ALIAS in settings.DATABASES:
        return []
    if settings.DATABASES["default"].get("USER") != APP_ROLE:
        return []
    return [
        checks.Error(
            f"DATABASE_URL connects as {APP_ROLE} but DATABASE_PLATFORM_URL is not set.",
            hint=f"Set DATABASE_PLATFORM_URL to the {PLATFORM_ROLE} role (README "
            '"Row-level security"): login and the webhooks look across organizations.',
            id="medsync.E101",
        )
    ]


# -- policies, grants and the audit trigger (post_migrate) -------------------------------


def tenant_tables(cursor) -> list[str]:
    """Every table of the current schema with an organization_id column."""
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = %s AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p') ORDER BY c.relname
        """,
        [TENANT_COLUMN],
    )
    return [row[0] for row in cursor.fetchall()]


def tables_missing_rls(cursor) -> list[str]:
    """Tenant tables without ENABLE + FORCE ROW LEVEL SECURITY and the tenant policy."""
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = %s AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p')
          AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
              SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s
                AND p.polcmd = '*' AND p.polpermissive
                AND pg_get_expr(p.polqual, p.polrelid) LIKE %s
                AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE %s))
        ORDER BY c.relname
        """,
        [TENANT_COLUMN, POLICY, f"%{TENANT_SETTING}%", f"%{TENANT_SETTING}%"],
    )
    return [row[0] for row in cursor.fetchall()]


def _existing_roles(cursor, names) -> list[str]:
    cursor.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [list(names)])
    return sorted(row[0] for row in cursor.fetchall())


AUDIT_NO_TRUNCATE = f"""
CREATE OR REPLACE FUNCTION medsync_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    -- A superuser can disable any trigger anyway; letting it through keeps the test
    -- suite's flush (TRUNCATE) working. Every other role is refused.
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '{AUDIT_TABLE} is append-only: TRUNCATE refused';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER medsync_auditevent_no_truncate
    BEFORE TRUNCATE ON {AUDIT_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION medsync_audit_no_truncate();
"""  # noqa: S608 - module constants only


def rls_apply(*, using: str = "default") -> list[str]:
    """Lock every tenant table, grant the runtime roles, refuse TRUNCATE on the audit log.

    Idempotent; returns the tables that got a new policy. Runs as the schema owner (or a
    superuser, as in the test suite).
    """
    connection = connections[using]
    created = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT FROM pg_trigger "
            "WHERE tgname = 'medsync_auditevent_no_truncate')",
            [AUDIT_TABLE],
        )
        has_audit, has_trigger = cursor.fetchone()
        if has_audit and not has_trigger:
            cursor.execute(AUDIT_NO_TRUNCATE)
        for table in tables_missing_rls(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")
            cursor.execute(
                "SELECT EXISTS (SELECT FROM pg_policy WHERE polrelid = %s::regclass "
                "AND polname = %s)",
                [quoted, POLICY],
            )
            if not cursor.fetchone()[0]:
                predicate = AUDIT_PREDICATE if table == AUDIT_TABLE else TENANT_PREDICATE
                cursor.execute(
                    f"CREATE POLICY {POLICY} ON {quoted} "
                    f"USING ({predicate}) WITH CHECK ({predicate})"
                )
                created.append(table)
        _grant(cursor)
    return created


def _grant(cursor) -> None:
    roles = _existing_roles(cursor, [APP_ROLE, PLATFORM_ROLE])
    if not roles:
        return  # a cluster without the runtime roles (a bare test run): nothing to grant
    grantees = ", ".join(roles)
    cursor.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {grantees}"
    )
    cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {grantees}")
    cursor.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {grantees}"
    )
    cursor.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {grantees}"
    )
    # Only the owner records migrations.
    cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {grantees}")


def apply_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate receiver (connected for the medsync app, so it runs once per migrate)."""
    if connections[using].vendor == "postgresql":
        rls_apply(using=using)


def refuse_migrate_without_owner(sender, using: str = "default", **kwargs) -> None:
    """pre_migrate receiver: a runtime role cannot change the schema; say which URL to use."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, r.rolsuper OR n.nspowner = r.oid FROM pg_roles r, "
            "pg_namespace n WHERE r.rolname = current_user AND n.nspname = current_schema()"
        )
        user, may_migrate = cursor.fetchone()
    if not may_migrate:
        raise ImproperlyConfigured(
            f"migrate is connected as {user}, a runtime role: run it as the schema owner "
            f"({OWNER_ROLE}), e.g. DATABASE_URL=$DATABASE_OWNER_URL python manage.py migrate."
        )
