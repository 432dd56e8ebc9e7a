"""Chain the events written before the chain existed, oldest first, in batches (constant memory)."""

from django.db import migrations

BATCH = 1000


def chain_existing(apps, schema_editor):
    from audit import chain

    AuditEvent = apps.get_model("audit", "AuditEvent")
    db = schema_editor.connection.alias
    events = AuditEvent.objects.using(db).order_by("id")
    chain.lock_chain(db)
    sequence, prev_hash, last_id = 0, chain.GENESIS_HASH, 0
    while True:
        # Keyset pages rather than one open cursor: SQLite gives no isolation between a cursor and
        # updates of the same table on one connection.
        batch = list(events.filter(id__gt=last_id)[:BATCH])
        if not batch:
            return
        for event in batch:
            sequence += 1
            event.sequence, event.prev_hash = sequence, prev_hash
            event.hash = prev_hash = chain.event_hash(event)
        AuditEvent.objects.using(db).bulk_update(batch, ["sequence", "prev_hash", "hash"])
        last_id = batch[-1].id


def unchain(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditEvent.objects.using(schema_editor.connection.alias).update(sequence=None, prev_hash="", hash="")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_fields")]

    operations = [migrations.RunPython(chain_existing, unchain)]
