"""PostgreSQL refuses UPDATE and DELETE on the audit table, whoever asks (SQLite: nothing to install).

TRUNCATE is not refused: Django's ``flush`` (and with it the test runner between transactional tests)
empties every table with one TRUNCATE, and a trigger cannot tell that apart from an attack. The triggers
stop the application and casual SQL; the table's owner can still disable them, which is why the rows are
hash-chained with a key the database does not hold: ``manage.py verify_audit_chain`` finds what changed.
"""

from django.db import migrations

INSTALL = """
CREATE OR REPLACE FUNCTION audit_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'Audit events are never changed or removed; record a new event instead.';
END;
$$;
CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_refuse_change();
"""

REMOVE = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_auditevent_refuse_change();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_chain_required")]

    operations = [migrations.RunPython(install, remove)]
