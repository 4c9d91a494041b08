"""A database trigger makes the audit log append-only for every client, not just the ORM."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION medsync_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'medsync_auditevent is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER medsync_auditevent_append_only
    BEFORE UPDATE OR DELETE ON medsync_auditevent
    FOR EACH ROW EXECUTE FUNCTION medsync_audit_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS medsync_auditevent_append_only ON medsync_auditevent;
DROP FUNCTION IF EXISTS medsync_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("medsync", "0001_initial")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
