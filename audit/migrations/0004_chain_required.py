"""Every event now has its place in the chain: the sequence number becomes required and unique."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_backfill")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="sequence",
            field=models.BigIntegerField(editable=False, unique=True, verbose_name="sequence"),
        ),
    ]
