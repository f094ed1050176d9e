"""The explorer's landing page lists profiles newest first: an index in that order (docs/operations.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('profiles', '0004_attribute_set_at_per_run'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='profile',
            index=models.Index(fields=['workspace', 'environment', '-updated_at', 'id'], name='profile_landing'),
        ),
    ]
